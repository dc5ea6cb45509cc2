//! Properties of the core over generated histories (proptest picks the organisation's
//! size and seed): every event and every decided command survives the protobuf round
//! trip; every generated
//! event is admitted by the intake rules that need no view; a redelivered event
//! changes no state and no decision; and the log read back decides what the events
//! did.

use std::collections::BTreeSet;

use proptest::prelude::*;
use tenure_core::simulate::Simulation;
use tenure_core::{LifecycleEvent, Policy, fold_log};

fn policy() -> Policy {
    Policy::from_toml(include_str!("../deploy/policy.toml")).expect("the shipped policy reads")
}

/// Every command id the reactor's rules decide over `log`, deadlines fired at the end.
fn decided(log: &[LifecycleEvent], policy: &Policy) -> BTreeSet<tenure_core::CommandId> {
    let mut simulation = Simulation::new(policy);
    let mut ids = BTreeSet::new();
    let mut last = chrono::DateTime::<chrono::Utc>::MIN_UTC;
    for event in log {
        last = last.max(event.recorded_time.max(event.effective_time));
        for decision in simulation.feed(event) {
            ids.extend(decision.reaction.commands.iter().map(|c| c.command_id()));
        }
    }
    for decision in simulation.finish(last) {
        ids.extend(decision.reaction.commands.iter().map(|c| c.command_id()));
    }
    ids
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn every_event_survives_the_protobuf_round_trip(people in 1usize..40, seed in any::<u64>()) {
        for event in tenure_gen::synthetic_history(people, seed) {
            let decoded = tenure_proto::decode_event(&tenure_proto::encode_event(&event))
                .expect("our own encoding decodes");
            prop_assert_eq!(decoded, event);
        }
    }

    #[test]
    fn every_decided_command_survives_the_protobuf_round_trip(people in 1usize..30, seed in any::<u64>()) {
        let policy = policy();
        let mut simulation = Simulation::new(&policy);
        let history = tenure_gen::synthetic_history(people, seed);
        let mut commands = 0;
        for event in &history {
            for decision in simulation.feed(event) {
                let issued = decision.trigger.recorded_time;
                for command in decision.reaction.commands {
                    let bytes = tenure_proto::encode_command(&command, issued);
                    let decoded = tenure_proto::decode_command(tenure_proto::command_ce_type(&command), &bytes)
                        .expect("our own encoding decodes");
                    prop_assert_eq!(decoded, (command, issued));
                    commands += 1;
                }
            }
        }
        // Every generated organisation hires people, who get birthright access.
        prop_assert!(commands > 0);
    }

    #[test]
    fn generated_events_are_storable_and_admitted(people in 1usize..40, seed in any::<u64>()) {
        let history = tenure_gen::synthetic_history(people, seed);
        let lines: Vec<(usize, LifecycleEvent)> = history.iter().cloned().enumerate().collect();
        let admitted = tenure_core::intake::admit(lines, None);
        prop_assert!(admitted.is_ok(), "{:?}", admitted.err());
    }

    #[test]
    fn a_redelivered_event_changes_no_state(
        people in 1usize..30,
        seed in any::<u64>(),
        picks in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..10),
    ) {
        let history = tenure_gen::synthetic_history(people, seed);
        let mut redelivered = history.clone();
        for (which, after) in picks {
            let event = history[which.index(history.len())].clone();
            // Redelivered later in the log, never before the original.
            let original = redelivered.iter().position(|e| e.event_id == event.event_id).unwrap_or(0);
            let at = original + 1 + after.index(redelivered.len() - original);
            redelivered.insert(at.min(redelivered.len()), event);
        }
        prop_assert_eq!(fold_log(&redelivered), fold_log(&history));
        let policy = policy();
        prop_assert_eq!(decided(&redelivered, &policy), decided(&history, &policy));
    }

    #[test]
    fn the_log_read_back_decides_what_the_events_did(people in 1usize..30, seed in any::<u64>()) {
        // What a replay sees is the log's bytes, not the events that were published:
        // folding and deciding over the decoded log must give the same states and the
        // same command ids.
        let history = tenure_gen::synthetic_history(people, seed);
        let read_back: Vec<LifecycleEvent> = history
            .iter()
            .map(|e| tenure_proto::decode_event(&tenure_proto::encode_event(e)).expect("decodes"))
            .collect();
        let policy = policy();
        prop_assert_eq!(fold_log(&read_back), fold_log(&history));
        prop_assert_eq!(decided(&read_back, &policy), decided(&history, &policy));
    }
}
