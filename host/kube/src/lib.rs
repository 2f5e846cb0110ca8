//! The kubeconfig lifecycle. A site's `ClusterMap` lists, per cluster, where
//! its kubeconfig can be found; this crate resolves them ([`resolve`]),
//! reads a cluster's Cluster API Secret with the `kube` client ([`client`]),
//! persists what it captured beyond the ephemeral cluster ([`store`]), and
//! offers the whole lifecycle as calls that return reports ([`lifecycle`]):
//! capture, get, merge.
//!
//! The engine runs guests and knows nothing of Kubernetes clients; this
//! crate gives it captured kubeconfigs through its `CredentialSource`
//! trait ([`store::FileStore`]). Nothing here ever prints or returns a
//! credential in a message: parse errors give a position, never a snippet
//! of the text.

pub mod client;
pub mod file;
pub mod lifecycle;
pub mod resolve;
pub mod store;
