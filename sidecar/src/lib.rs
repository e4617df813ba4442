//! berth-sidecar: the runtime half of berth.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod contract;
