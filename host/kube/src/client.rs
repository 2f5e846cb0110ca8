//! Reading a cluster's kubeconfig from its Cluster API Secret in the
//! management cluster, with the `kube` client: wait for the Secret with
//! visible progress, retry what is transient, fail at once, and clearly, on
//! what is not.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig as KubeKubeconfig};
use mooring_model::kubeconfig::{Kubeconfig, KubeconfigError};

use mooring_engine::limits::DisplayDuration;

/// How long to wait for a Secret, and how often to look.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    /// Give up after this long.
    pub timeout: Duration,
    /// Look again after this long.
    pub interval: Duration,
}

/// Consecutive connection failures after which a server counts as gone
/// rather than starting up: an ephemeral cluster that has been deleted
/// should not cost the whole timeout.
const UNREACHABLE_AFTER: u32 = 3;

/// Why a kubeconfig could not be captured. Every message names the cluster
/// and its API server, and none carries a credential.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The parent's kubeconfig could not become a client.
    #[error("cannot connect to cluster `{cluster}` with its kubeconfig: {reason}")]
    Client {
        /// The cluster connected to.
        cluster: String,
        /// Why.
        reason: String,
    },
    /// 401.
    #[error(
        "the API server {server} of cluster `{cluster}` rejected its credentials (401 Unauthorized); \
         the kubeconfig of `{cluster}` is stale or wrong: capture or replace it"
    )]
    Unauthorized {
        /// The cluster connected to.
        cluster: String,
        /// Its API server.
        server: String,
    },
    /// 403.
    #[error(
        "the API server {server} of cluster `{cluster}` forbids reading Secret {secret} (403 Forbidden: {message}); \
         the user needs `get` on secrets in that namespace"
    )]
    Forbidden {
        /// The cluster connected to.
        cluster: String,
        /// Its API server.
        server: String,
        /// `namespace/name`.
        secret: String,
        /// The server's message.
        message: String,
    },
    /// The Secret never appeared.
    #[error(
        "Secret {secret} did not appear on cluster `{cluster}` ({server}) within {} ({polls} polls, last: {last}); \
         check that the Cluster API cluster exists and the ClusterMap names its namespace",
        DisplayDuration(*timeout)
    )]
    Timeout {
        /// The cluster looked at.
        cluster: String,
        /// Its API server.
        server: String,
        /// `namespace/name`.
        secret: String,
        /// How long it waited.
        timeout: Duration,
        /// How many times it looked.
        polls: u32,
        /// What the last look said.
        last: String,
    },
    /// TLS failed: the server is not who the kubeconfig trusts.
    #[error(
        "TLS with the API server {server} of cluster `{cluster}` failed: {reason}; \
         check the cluster's certificate-authority-data and server address"
    )]
    Tls {
        /// The cluster connected to.
        cluster: String,
        /// Its API server.
        server: String,
        /// rustls's explanation.
        reason: String,
    },
    /// Nothing answers.
    #[error("the API server {server} of cluster `{cluster}` is unreachable: {reason}")]
    Unreachable {
        /// The cluster connected to.
        cluster: String,
        /// Its API server.
        server: String,
        /// The last connection error.
        reason: String,
    },
    /// The Secret holds no usable kubeconfig.
    #[error(
        "Secret {secret} on cluster `{cluster}` holds no usable kubeconfig under `value`: {reason}"
    )]
    Malformed {
        /// The cluster looked at.
        cluster: String,
        /// `namespace/name`.
        secret: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Any other answer from the API server.
    #[error("the API server {server} of cluster `{cluster}` answered {code}: {message}")]
    Api {
        /// The cluster connected to.
        cluster: String,
        /// Its API server.
        server: String,
        /// HTTP status.
        code: u16,
        /// The server's message.
        message: String,
    },
}

/// A connection to one cluster, made from its kubeconfig.
pub struct Connection {
    cluster: String,
    server: String,
    client: kube::Client,
}

impl Connection {
    /// Connects to `cluster` with context `cluster` of `kubeconfig` (a
    /// kubeconfig as the resolver returns it). `request_timeout` bounds each
    /// request, so a silent server cannot hang a poll.
    pub async fn new(
        cluster: &str,
        kubeconfig: &Kubeconfig,
        request_timeout: Duration,
    ) -> Result<Self, ClusterError> {
        // kube's rustls needs a process-wide provider; mooring uses ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client_error = |reason: String| ClusterError::Client {
            cluster: cluster.to_owned(),
            reason,
        };
        // A resolved kubeconfig holds the cluster under the ClusterMap's
        // context name for it, which the older schema lets differ from
        // the cluster's own (`kubeconfigContext`).
        let context = match kubeconfig.contexts.as_slice() {
            [only] if only.name != cluster => only.name.clone(),
            _ => cluster.to_owned(),
        };
        let server = kubeconfig
            .server(&context)
            .unwrap_or("(no server)")
            .to_owned();
        let value = serde_json::to_value(kubeconfig).map_err(|e| client_error(e.to_string()))?;
        let parsed: KubeKubeconfig =
            serde_json::from_value(value).map_err(|e| client_error(e.to_string()))?;
        let options = KubeConfigOptions {
            context: Some(context),
            ..KubeConfigOptions::default()
        };
        let mut config = kube::Config::from_custom_kubeconfig(parsed, &options)
            .await
            .map_err(|e| client_error(e.to_string()))?;
        config.connect_timeout = Some(request_timeout);
        config.read_timeout = Some(request_timeout);
        config.write_timeout = Some(request_timeout);
        let client = kube::Client::try_from(config).map_err(|e| client_error(e.to_string()))?;
        Ok(Connection {
            cluster: cluster.to_owned(),
            server,
            client,
        })
    }

    /// The cluster's name.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// The cluster's API server.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The Secret `namespace/name`, waiting for it to appear. `progress` is
    /// told about every look that found nothing yet.
    pub async fn wait_for_secret(
        &self,
        namespace: &str,
        name: &str,
        wait: Wait,
        mut progress: impl FnMut(&WaitProgress),
    ) -> Result<Secret, ClusterError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = format!("{namespace}/{name}");
        let started = Instant::now();
        let mut polls = 0;
        let mut unreachable = 0;
        loop {
            polls += 1;
            let last = match api.get_opt(name).await {
                Ok(Some(found)) => return Ok(found),
                Ok(None) => {
                    unreachable = 0;
                    "not there yet".to_owned()
                }
                Err(error) => match self.classify(error, &secret) {
                    Failure::Fatal(error) => return Err(error),
                    Failure::Transient(why) => {
                        unreachable = 0;
                        why
                    }
                    Failure::Unreachable(why) => {
                        unreachable += 1;
                        if unreachable >= UNREACHABLE_AFTER {
                            return Err(ClusterError::Unreachable {
                                cluster: self.cluster.clone(),
                                server: self.server.clone(),
                                reason: why,
                            });
                        }
                        why
                    }
                },
            };
            let elapsed = started.elapsed();
            if elapsed + wait.interval > wait.timeout {
                return Err(ClusterError::Timeout {
                    cluster: self.cluster.clone(),
                    server: self.server.clone(),
                    secret,
                    timeout: wait.timeout,
                    polls,
                    last,
                });
            }
            progress(&WaitProgress {
                secret: &secret,
                poll: polls,
                elapsed,
                timeout: wait.timeout,
                last: &last,
            });
            tokio::time::sleep(wait.interval).await;
        }
    }

    /// Creates or replaces a Secret, retrying on a conflicting write.
    pub async fn put_secret(&self, namespace: &str, secret: Secret) -> Result<(), ClusterError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let name = secret.metadata.name.clone().unwrap_or_default();
        let id = format!("{namespace}/{name}");
        for _ in 0..5 {
            let existing = api.get_opt(&name).await.map_err(|e| self.fatal(e, &id))?;
            let result = match existing {
                Some(existing) => {
                    let mut replacement = secret.clone();
                    replacement.metadata.resource_version = existing.metadata.resource_version;
                    api.replace(&name, &PostParams::default(), &replacement)
                        .await
                        .map(drop)
                }
                None => api.create(&PostParams::default(), &secret).await.map(drop),
            };
            match result {
                Ok(()) => return Ok(()),
                // Someone wrote between our read and our write: read again.
                Err(kube::Error::Api(status)) if status.code == 409 => continue,
                Err(error) => return Err(self.fatal(error, &id)),
            }
        }
        Err(ClusterError::Api {
            cluster: self.cluster.clone(),
            server: self.server.clone(),
            code: 409,
            message: format!("Secret {id} kept changing while it was written; try again"),
        })
    }

    fn fatal(&self, error: kube::Error, secret: &str) -> ClusterError {
        match self.classify(error, secret) {
            Failure::Fatal(error) => error,
            Failure::Transient(reason) | Failure::Unreachable(reason) => {
                ClusterError::Unreachable {
                    cluster: self.cluster.clone(),
                    server: self.server.clone(),
                    reason,
                }
            }
        }
    }

    fn classify(&self, error: kube::Error, secret: &str) -> Failure {
        let cluster = self.cluster.clone();
        let server = self.server.clone();
        match error {
            kube::Error::Api(status) => match status.code {
                401 => Failure::Fatal(ClusterError::Unauthorized { cluster, server }),
                403 => Failure::Fatal(ClusterError::Forbidden {
                    cluster,
                    server,
                    secret: secret.to_owned(),
                    message: status.message,
                }),
                429 | 500..=599 => {
                    Failure::Transient(format!("{} {}", status.code, status.message))
                }
                code => Failure::Fatal(ClusterError::Api {
                    cluster,
                    server,
                    code,
                    message: status.message,
                }),
            },
            other => {
                let chain = error_chain(&other);
                if chain.contains("certificate") || chain.contains("tls") || chain.contains("TLS") {
                    Failure::Fatal(ClusterError::Tls {
                        cluster,
                        server,
                        reason: chain,
                    })
                } else {
                    Failure::Unreachable(chain)
                }
            }
        }
    }
}

/// What one look that found nothing yet saw.
#[derive(Debug)]
pub struct WaitProgress<'a> {
    /// `namespace/name`.
    pub secret: &'a str,
    /// Looks so far.
    pub poll: u32,
    /// Time since the first look.
    pub elapsed: Duration,
    /// When it gives up.
    pub timeout: Duration,
    /// What this look saw.
    pub last: &'a str,
}

enum Failure {
    Fatal(ClusterError),
    Transient(String),
    Unreachable(String),
}

/// An error and its sources, innermost last, on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The kubeconfig in a Cluster API Secret's `value`, checked.
pub fn kubeconfig_from_secret(cluster: &str, secret: &Secret) -> Result<Kubeconfig, ClusterError> {
    let id = format!(
        "{}/{}",
        secret.metadata.namespace.as_deref().unwrap_or(""),
        secret.metadata.name.as_deref().unwrap_or("")
    );
    let malformed = |reason: String| ClusterError::Malformed {
        cluster: cluster.to_owned(),
        secret: id.clone(),
        reason,
    };
    let bytes = secret
        .data
        .as_ref()
        .and_then(|data| data.get("value"))
        .map(|value| value.0.as_slice())
        .filter(|bytes| !bytes.is_empty())
        .ok_or_else(|| malformed("the key is missing or empty".to_owned()))?;
    let text = std::str::from_utf8(bytes).map_err(|_| malformed("not UTF-8".to_owned()))?;
    crate::file::parse(text).map_err(|e: KubeconfigError| malformed(e.to_string()))
}
