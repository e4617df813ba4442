//! The agent's metrics, registered in the sidecar's registry (served on the admin port).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use berth_sidecar::prometheus_client::metrics::counter::Counter;
use berth_sidecar::prometheus_client::metrics::family::Family;
use berth_sidecar::prometheus_client::metrics::gauge::Gauge;
use berth_sidecar::prometheus_client::registry::Registry;

use crate::loadavg::LoadAvg;

/// Label set of `node_agent_info`: `node` first, then the configured labels by name.
pub type InfoLabels = Vec<(String, String)>;

/// Every metric of the agent (cheap clones sharing the same values).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// `node_agent_load1`.
    pub load1: Gauge<f64, AtomicU64>,
    /// `node_agent_load5`.
    pub load5: Gauge<f64, AtomicU64>,
    /// `node_agent_load15`.
    pub load15: Gauge<f64, AtomicU64>,
    /// `node_agent_info{node, <labels>} 1`.
    pub info: Family<InfoLabels, Gauge>,
    /// `node_agent_config_reloads_total`.
    pub reloads: Counter,
    /// `node_agent_read_errors_total`.
    pub read_errors: Counter,
}

impl Metrics {
    /// Registers every metric under `node_agent_*`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "node_agent_load1",
            "Host load average over 1 minute",
            self.load1.clone(),
        );
        registry.register(
            "node_agent_load5",
            "Host load average over 5 minutes",
            self.load5.clone(),
        );
        registry.register(
            "node_agent_load15",
            "Host load average over 15 minutes",
            self.load15.clone(),
        );
        registry.register(
            "node_agent_info",
            "The node this agent runs on, with the configured labels",
            self.info.clone(),
        );
        registry.register(
            "node_agent_config_reloads",
            "Configuration reloads applied without a restart",
            self.reloads.clone(),
        );
        registry.register(
            "node_agent_read_errors",
            "Failed reads of the host's loadavg",
            self.read_errors.clone(),
        );
    }

    /// Records one sample.
    pub fn observe(&self, load: LoadAvg) {
        self.load1.set(load.one);
        self.load5.set(load.five);
        self.load15.set(load.fifteen);
    }

    /// Replaces the `node_agent_info` series (the labels may have changed on reload).
    pub fn set_info(&self, node: &str, labels: &BTreeMap<String, String>) {
        self.info.clear();
        self.info.get_or_create(&info_labels(node, labels)).set(1);
    }
}

/// `node` first, then the configured labels sorted by name.
pub fn info_labels(node: &str, labels: &BTreeMap<String, String>) -> InfoLabels {
    std::iter::once(("node".to_owned(), node.to_owned()))
        .chain(labels.iter().map(|(k, v)| (k.clone(), v.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_sidecar::prometheus_client::encoding::text::encode;

    fn render(m: &Metrics) -> String {
        let mut registry = Registry::default();
        m.register(&mut registry);
        let mut out = String::new();
        encode(&mut out, &registry).unwrap();
        out
    }

    #[test]
    fn exposes_load_and_info() {
        let m = Metrics::default();
        m.observe(LoadAvg {
            one: 1.5,
            five: 0.25,
            fifteen: 0.0,
        });
        let labels = BTreeMap::from([("role".to_owned(), "example".to_owned())]);
        m.set_info("node-1", &labels);
        let text = render(&m);
        assert!(text.contains("node_agent_load1 1.5\n"), "{text}");
        assert!(text.contains("node_agent_load5 0.25\n"), "{text}");
        assert!(
            text.contains("node_agent_info{node=\"node-1\",role=\"example\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("node_agent_config_reloads_total 0\n"),
            "{text}"
        );
    }

    #[test]
    fn set_info_replaces_the_old_series() {
        let m = Metrics::default();
        m.set_info("n", &BTreeMap::from([("role".to_owned(), "a".to_owned())]));
        m.set_info("n", &BTreeMap::from([("role".to_owned(), "b".to_owned())]));
        let text = render(&m);
        assert!(!text.contains("role=\"a\""), "{text}");
        assert!(
            text.contains("node_agent_info{node=\"n\",role=\"b\"} 1"),
            "{text}"
        );
    }
}
