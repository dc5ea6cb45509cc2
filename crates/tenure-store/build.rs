//! Rebuilds the crate when a migration is added: `embed_migrations!` reads the
//! directory at compile time and cargo would not notice a new file otherwise.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
