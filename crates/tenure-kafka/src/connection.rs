//! How every Kafka client of Tenure connects: the bootstrap servers, plus whatever
//! librdkafka properties the operator passes through for a managed Kafka (TLS, SASL,
//! client ids, …), the way Kafka Connect users expect. Each environment variable
//! `KAFKA_<NAME>` (other than `KAFKA_BOOTSTRAP_SERVERS`) sets the property `<name>`
//! with `_` read as `.` (`KAFKA_SECURITY_PROTOCOL=SASL_SSL` → `security.protocol`);
//! `TENURE_KAFKA_PROPERTIES` may name a `key=value` file, read first, for properties
//! that are better kept in a file (passwords, paths).

use std::sync::OnceLock;

use rdkafka::ClientConfig;

/// Environment variable naming a librdkafka properties file.
pub const PROPERTIES_FILE_ENV: &str = "TENURE_KAFKA_PROPERTIES";

/// The properties `vars` (environment variables) and `file` (a properties file's text)
/// pass through, in the order they apply (the environment wins).
pub fn passthrough_from(
    vars: impl IntoIterator<Item = (String, String)>,
    file: Option<&str>,
) -> Result<Vec<(String, String)>, String> {
    let mut properties = Vec::new();
    if let Some(text) = file {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("line {}: expected key=value, found {line:?}", n + 1))?;
            properties.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let mut from_env: Vec<(String, String)> = vars
        .into_iter()
        .filter_map(|(name, value)| {
            let rest = name.strip_prefix("KAFKA_")?;
            (rest != "BOOTSTRAP_SERVERS" && !rest.is_empty())
                .then(|| (rest.to_ascii_lowercase().replace('_', "."), value))
        })
        .collect();
    from_env.sort();
    properties.extend(from_env);
    Ok(properties)
}

/// This process's pass-through properties, read once.
fn read_once() -> &'static Result<Vec<(String, String)>, String> {
    static PROPERTIES: OnceLock<Result<Vec<(String, String)>, String>> = OnceLock::new();
    PROPERTIES.get_or_init(|| {
        let file = match std::env::var(PROPERTIES_FILE_ENV) {
            Ok(path) => Some(
                std::fs::read_to_string(&path)
                    .map_err(|e| format!("{PROPERTIES_FILE_ENV}={path} cannot be read: {e}"))?,
            ),
            Err(_) => None,
        };
        passthrough_from(std::env::vars(), file.as_deref())
            .map_err(|e| format!("{PROPERTIES_FILE_ENV}: {e}"))
    })
}

/// Reads the pass-through properties, or says why they cannot be: called at start, so
/// a bad properties file stops the process with a message naming it instead of
/// connecting without the operator's TLS or SASL settings.
pub fn load_passthrough() -> Result<(), String> {
    read_once().as_ref().map(|_| ()).map_err(Clone::clone)
}

/// The pass-through properties (none when they could not be read; see
/// [`load_passthrough`]).
pub fn passthrough() -> &'static [(String, String)] {
    read_once().as_deref().unwrap_or_default()
}

/// A client configuration for `bootstrap` with the operator's pass-through properties;
/// every Kafka client Tenure makes starts from this.
pub fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    for (key, value) in passthrough() {
        config.set(key, value);
    }
    config
}

#[cfg(test)]
mod tests {
    use rdkafka::producer::BaseProducer;

    use super::*;

    #[test]
    fn kafka_variables_become_librdkafka_properties_and_the_environment_wins() {
        let vars = [
            ("KAFKA_BOOTSTRAP_SERVERS", "b:9092"),
            ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
            ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            ("PATH", "/bin"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let file = "# managed Kafka\nsasl.username = tenure\nsecurity.protocol=SSL\n";
        let properties = passthrough_from(vars, Some(file)).unwrap();
        assert_eq!(
            properties,
            [
                ("sasl.username", "tenure"),
                ("security.protocol", "SSL"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("security.protocol", "SASL_SSL"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert!(passthrough_from(Vec::new(), Some("no equals sign")).is_err());
    }

    #[test]
    fn tls_and_sasl_are_built_in() {
        // librdkafka refuses these properties when built without TLS or SASL support.
        let producer: Result<BaseProducer, _> = ClientConfig::new()
            .set("bootstrap.servers", "127.0.0.1:1")
            .set("security.protocol", "SASL_SSL")
            .set("sasl.mechanism", "SCRAM-SHA-256")
            .set("sasl.username", "tenure")
            .set("sasl.password", "secret")
            .create();
        assert!(producer.is_ok(), "{:?}", producer.err());
    }
}
