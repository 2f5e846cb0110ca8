//! A Kubernetes API server, as far as Secrets go, for the kube client to
//! talk to over real HTTPS: a test CA, a server certificate for 127.0.0.1,
//! bearer-token and client-certificate auth, GET/POST/PUT of Secrets, and
//! `Status` bodies for 401, 403, 404 and 409.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// How a kubeconfig authenticates to the server.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Auth {
    /// A bearer token the server accepts.
    Token,
    /// A client certificate signed by the test CA.
    ClientCert,
    /// A token the server rejects.
    WrongToken,
}

#[derive(Default)]
struct State {
    /// (namespace, name) → Secret JSON.
    secrets: HashMap<(String, String), Value>,
    /// Secrets that appear after this many more GETs of them.
    pending: HashMap<(String, String), (u32, Value)>,
    forbidden: HashSet<String>,
    gets: HashMap<(String, String), u32>,
    next_version: u64,
    /// Kinds served besides Secrets, by apiVersion: what discovery lists,
    /// so that kubectl can map the objects of a stream.
    kinds: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
}

pub(crate) struct ApiServer {
    pub(crate) url: String,
    pub(crate) token: String,
    ca_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ApiServer {
    /// Starts a server on a free port of 127.0.0.1.
    pub(crate) fn start() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "mooring test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();

        let server_key = KeyPair::generate().unwrap();
        let mut server_params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        server_params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let server_cert = server_params.signed_by(&server_key, &ca).unwrap();

        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        client_params
            .distinguished_name
            .push(DnType::CommonName, "admin");
        client_params
            .distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        let client_cert = client_params.signed_by(&client_key, &ca).unwrap();

        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .allow_unauthenticated()
            .build()
            .unwrap();
        let tls = rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from(server_cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));

        let std_listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr: SocketAddr = std_listener.local_addr().unwrap();
        let token = format!("test-token-{}", addr.port());
        let state = Arc::new(Mutex::new(State::default()));
        let (shutdown, mut stopped) = tokio::sync::oneshot::channel::<()>();

        let thread = {
            let state = state.clone();
            let token = token.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(std_listener).unwrap();
                    loop {
                        tokio::select! {
                            _ = &mut stopped => break,
                            accepted = listener.accept() => {
                                let Ok((stream, _)) = accepted else { continue };
                                let acceptor = acceptor.clone();
                                let state = state.clone();
                                let token = token.clone();
                                tokio::spawn(async move {
                                    // A client that distrusts us hangs up here.
                                    let Ok(tls) = acceptor.accept(stream).await else { return };
                                    let has_cert = tls.get_ref().1.peer_certificates().is_some();
                                    let service = hyper::service::service_fn(move |request| {
                                        let state = state.clone();
                                        let token = token.clone();
                                        async move {
                                            Ok::<_, Infallible>(handle(request, &state, &token, has_cert).await)
                                        }
                                    });
                                    let io = hyper_util::rt::TokioIo::new(tls);
                                    let _ = hyper::server::conn::http1::Builder::new()
                                        .serve_connection(io, service)
                                        .await;
                                });
                            }
                        }
                    }
                });
                // Dropping the runtime closes every open connection.
            })
        };

        ApiServer {
            url: format!("https://{addr}"),
            token,
            ca_pem: ca.pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
            state,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// Stops the server; connections fail from now on.
    pub(crate) fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }

    /// A kubeconfig with one context `context` for this server.
    pub(crate) fn kubeconfig(&self, context: &str, auth: Auth) -> String {
        let b64 = |text: &str| BASE64.encode(text);
        let user = match auth {
            Auth::Token => json!({"token": self.token}),
            Auth::WrongToken => json!({"token": "not-the-token"}),
            Auth::ClientCert => json!({
                "client-certificate-data": b64(&self.client_cert_pem),
                "client-key-data": b64(&self.client_key_pem),
            }),
        };
        let config = json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url, "certificate-authority-data": b64(&self.ca_pem)}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": format!("{context}-user")}}],
            "users": [{"name": format!("{context}-user"), "user": user}],
            "current-context": context,
        });
        config.to_string()
    }

    /// What Cluster API keeps for `cluster`: a kubeconfig whose context is
    /// `<cluster>-admin@<cluster>`, pointing at this server.
    pub(crate) fn capi_kubeconfig(&self, cluster: &str, auth: Auth) -> String {
        self.kubeconfig(cluster, auth)
            .replace(
                &format!("\"name\":\"{cluster}\",\"context\""),
                &format!("\"name\":\"{cluster}-admin@{cluster}\",\"context\""),
            )
            .replace(
                &format!("\"current-context\":\"{cluster}\""),
                &format!("\"current-context\":\"{cluster}-admin@{cluster}\""),
            )
    }

    /// Adds Secret `namespace/name` holding `value` now.
    pub(crate) fn put_secret(&self, namespace: &str, name: &str, value: &str) {
        self.put_secret_after(namespace, name, value, 0);
    }

    /// Adds Secret `namespace/name` after `polls` GETs have not found it.
    pub(crate) fn put_secret_after(&self, namespace: &str, name: &str, value: &str, polls: u32) {
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace,
                "labels": {"cluster.x-k8s.io/cluster-name": name.trim_end_matches("-kubeconfig")}},
            "type": "cluster.x-k8s.io/secret",
            "data": {"value": BASE64.encode(value)},
        });
        let mut state = self.state.lock().unwrap();
        let key = (namespace.to_owned(), name.to_owned());
        if polls == 0 {
            insert(&mut state, key, secret);
        } else {
            state.pending.insert(key, (polls, secret));
        }
    }

    /// Removes Secret `namespace/name`, as when its cluster is deleted.
    pub(crate) fn delete_secret(&self, namespace: &str, name: &str) {
        let mut state = self.state.lock().unwrap();
        state
            .secrets
            .remove(&(namespace.to_owned(), name.to_owned()));
    }

    /// Lists `kind` of `api_version` in discovery (every kind namespaced,
    /// none stored: a GET of one answers 404, so kubectl creates it).
    pub(crate) fn serve_kind(&self, api_version: &str, kind: &str) {
        self.state
            .lock()
            .unwrap()
            .kinds
            .entry(api_version.to_owned())
            .or_default()
            .insert(kind.to_owned());
    }

    /// Answers 403 for every Secret in `namespace`.
    pub(crate) fn forbid(&self, namespace: &str) {
        self.state
            .lock()
            .unwrap()
            .forbidden
            .insert(namespace.to_owned());
    }

    /// The decoded `value` of a stored Secret.
    pub(crate) fn secret_value(&self, namespace: &str, name: &str) -> Option<String> {
        let state = self.state.lock().unwrap();
        let secret = state
            .secrets
            .get(&(namespace.to_owned(), name.to_owned()))?;
        let data = secret["data"]["value"].as_str()?;
        String::from_utf8(BASE64.decode(data).ok()?).ok()
    }

    /// How many GETs asked for `namespace/name`.
    pub(crate) fn gets(&self, namespace: &str, name: &str) -> u32 {
        let state = self.state.lock().unwrap();
        state
            .gets
            .get(&(namespace.to_owned(), name.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn insert(state: &mut State, key: (String, String), mut secret: Value) {
    state.next_version += 1;
    secret["metadata"]["resourceVersion"] = state.next_version.to_string().into();
    state.secrets.insert(key, secret);
}

/// The legacy discovery documents for Secrets and the served kinds.
fn discovery(
    parts: &[&str],
    kinds: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Option<Value> {
    let resources = |api_version: &str| {
        let mut listed: Vec<Value> = kinds
            .get(api_version)
            .into_iter()
            .flatten()
            .map(|kind| {
                let singular = kind.to_lowercase();
                json!({"name": format!("{singular}s"), "singularName": singular, "namespaced": true,
                       "kind": kind, "verbs": ["get", "list", "create", "update", "patch", "delete"]})
            })
            .collect();
        if api_version == "v1" {
            listed.push(
                json!({"name": "secrets", "singularName": "secret", "namespaced": true,
                               "kind": "Secret", "verbs": ["get", "list", "create", "update"]}),
            );
        }
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version, "resources": listed})
    };
    match parts {
        ["api"] => Some(
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
        ),
        ["api", "v1"] => Some(resources("v1")),
        ["apis"] => {
            let mut by_group: std::collections::BTreeMap<&str, Vec<Value>> = Default::default();
            for (group, version) in kinds.keys().filter_map(|v| v.split_once('/')) {
                by_group.entry(group).or_default().push(
                    json!({"groupVersion": format!("{group}/{version}"), "version": version}),
                );
            }
            let groups: Vec<Value> = by_group
                .into_iter()
                .map(|(group, versions)| {
                    json!({"name": group, "preferredVersion": versions[0].clone(), "versions": versions})
                })
                .collect();
            Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        }
        ["apis", group, version] => Some(resources(&format!("{group}/{version}"))),
        _ => None,
    }
}

fn status(code: StatusCode, reason: &str, message: String) -> Response<Full<Bytes>> {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code.as_u16(),
    });
    respond(code, &body)
}

fn respond(code: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = code;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn handle(
    request: Request<Incoming>,
    state: &Mutex<State>,
    token: &str,
    has_cert: bool,
) -> Response<Full<Bytes>> {
    let bearer = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !(has_cert || bearer == Some(token)) {
        return status(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized".to_owned(),
        );
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    if let Some(answer) = discovery(&parts, &state.lock().unwrap().kinds) {
        return respond(StatusCode::OK, &answer);
    }
    let (namespace, name) = match parts.as_slice() {
        ["api", "v1", "namespaces", ns, "secrets"] => ((*ns).to_owned(), None),
        ["api", "v1", "namespaces", ns, "secrets", name] => {
            ((*ns).to_owned(), Some((*name).to_owned()))
        }
        _ => {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("the server could not find the requested resource ({path})"),
            );
        }
    };
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut state = state.lock().unwrap();
    if state.forbidden.contains(&namespace) {
        return status(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!(
                "secrets is forbidden: User \"admin\" cannot get resource \"secrets\" in namespace \"{namespace}\""
            ),
        );
    }
    let not_found = |name: &str| {
        status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("secrets \"{name}\" not found"),
        )
    };
    match (method, name) {
        (Method::GET, Some(name)) => {
            let key = (namespace, name.clone());
            *state.gets.entry(key.clone()).or_default() += 1;
            if let Some((left, secret)) = state.pending.remove(&key) {
                if left <= 1 {
                    insert(&mut state, key.clone(), secret);
                } else {
                    state.pending.insert(key.clone(), (left - 1, secret));
                }
                return not_found(&name);
            }
            match state.secrets.get(&key) {
                Some(secret) => respond(StatusCode::OK, secret),
                None => not_found(&name),
            }
        }
        (Method::POST, None) => {
            let Ok(secret) = serde_json::from_slice::<Value>(&body) else {
                return status(StatusCode::BAD_REQUEST, "BadRequest", "not JSON".to_owned());
            };
            let name = secret["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let key = (namespace, name.clone());
            if state.secrets.contains_key(&key) {
                return status(
                    StatusCode::CONFLICT,
                    "AlreadyExists",
                    format!("secrets \"{name}\" already exists"),
                );
            }
            insert(&mut state, key.clone(), secret);
            respond(StatusCode::CREATED, &state.secrets[&key])
        }
        (Method::PUT, Some(name)) => {
            let Ok(secret) = serde_json::from_slice::<Value>(&body) else {
                return status(StatusCode::BAD_REQUEST, "BadRequest", "not JSON".to_owned());
            };
            let key = (namespace, name.clone());
            let Some(current) = state.secrets.get(&key) else {
                return not_found(&name);
            };
            if current["metadata"]["resourceVersion"] != secret["metadata"]["resourceVersion"] {
                return status(
                    StatusCode::CONFLICT,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on secrets \"{name}\": the object has been modified"
                    ),
                );
            }
            insert(&mut state, key.clone(), secret);
            respond(StatusCode::OK, &state.secrets[&key])
        }
        (method, _) => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not supported here"),
        ),
    }
}
