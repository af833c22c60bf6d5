//! ARM refuses what ARM refuses: requests without a valid management token (401 with ARM's
//! codes and `WWW-Authenticate`), clients past ARM's throttling buckets or past their share
//! of in-flight requests (429 with `Retry-After`), oversized headers and URLs; identity and
//! metadata stay open; `--auth none` serves anyone. A refused request changes nothing.

mod common;

use std::sync::Arc;
use std::time::Duration;

use armlet::config::{AuthMode, ServeConfig, Throttling};
use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn claims_token(t: &TestArmlet, claims: Value) -> String {
    let key = std::fs::read(armlet::tls::TlsFiles::new(t.dir.path()).token_key()).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&key),
    )
    .unwrap()
}

async fn get_with(t: &TestArmlet, auth: Option<&str>) -> (u16, Value, reqwest::header::HeaderMap) {
    let plain = client_for(&t.armlet.ca_cert());
    let mut rb = plain.get(t.url(&format!(
        "/subscriptions/{SUB}/resourcegroups?api-version=2024-11-01"
    )));
    if let Some(a) = auth {
        rb = rb.header("authorization", a);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arm_requests_need_a_management_token_signed_by_armlet() {
    let t = TestArmlet::start().await;
    let tenant = armlet::config::DEFAULT_TENANT;

    let (s, body, h) = get_with(&t, None).await;
    assert_eq!(s, 401);
    assert_eq!(body["error"]["code"], "AuthenticationFailed");
    assert_eq!(
        body["error"]["message"],
        "Authentication failed. The 'Authorization' header is missing."
    );
    let challenge = h["www-authenticate"].to_str().unwrap();
    assert_eq!(
        challenge,
        format!(
            "Bearer authorization_uri=\"{}/{tenant}\", error=\"invalid_token\", error_description=\"The authentication failed because of missing 'Authorization' header.\"",
            t.armlet.endpoint()
        )
    );
    assert_eq!(h["x-ms-failure-cause"], "gateway");

    let (s, body, _) = get_with(&t, Some("Basic dXNlcjpwdw==")).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (401, Some("AuthenticationFailed"))
    );
    let (s, body, _) = get_with(&t, Some("Bearer not-a-token")).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationToken"))
    );

    // Signed with another key (another armlet's token).
    let foreign = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"aud": "https://management.core.windows.net/", "exp": chrono::Utc::now().timestamp() + 3600, "oid": "x"}),
        &jsonwebtoken::EncodingKey::from_secret(b"someone else's key"),
    )
    .unwrap();
    let (s, body, _) = get_with(&t, Some(&format!("Bearer {foreign}"))).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationToken"))
    );

    // A token armlet issued for another audience (Microsoft Graph).
    let plain = client_for(&t.armlet.ca_cert());
    let (_, graph) = send(
        plain
            .post(t.url(&format!("/{tenant}/oauth2/v2.0/token")))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "c"),
                ("client_secret", "s"),
                ("scope", "https://graph.microsoft.com/.default"),
            ]),
    )
    .await;
    let (s, body, _) = get_with(
        &t,
        Some(&format!(
            "Bearer {}",
            graph["access_token"].as_str().unwrap()
        )),
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(body["error"]["code"], "InvalidAuthenticationTokenAudience");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'https://graph.microsoft.com/'")
    );

    // Expired: refused beyond ARM's five minutes of clock skew, accepted within.
    let now = chrono::Utc::now().timestamp();
    let stale = claims_token(
        &t,
        json!({"aud": "https://management.azure.com/", "exp": now - 400, "oid": "o"}),
    );
    let (s, body, _) = get_with(&t, Some(&format!("Bearer {stale}"))).await;
    assert_eq!(s, 401);
    assert_eq!(body["error"]["code"], "ExpiredAuthenticationToken");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("The access token expiry UTC time '")
    );
    let skewed = claims_token(
        &t,
        json!({"aud": "https://management.azure.com/", "exp": now - 200, "oid": "o"}),
    );
    assert_eq!(get_with(&t, Some(&format!("Bearer {skewed}"))).await.0, 200);

    // A refused write stores nothing.
    let plain_put = plain
        .put(t.url(&rg_path("refused")))
        .json(&json!({"location": "eastus"}))
        .send()
        .await
        .unwrap();
    assert_eq!(plain_put.status().as_u16(), 401);
    assert_eq!(t.get(&rg_path("refused")).await.0, 404);

    // Identity, metadata and the image alias document are open, as in Azure.
    for open in [
        "/metadata/endpoints?api-version=2022-09-01".to_string(),
        format!("/{tenant}/v2.0/.well-known/openid-configuration"),
        "/armlet/vm-image-aliases.json".to_string(),
        "/metadata/identity/oauth2/token?resource=https://management.azure.com/&api-version=2018-02-01".to_string(),
    ] {
        assert_eq!(send(plain.get(t.url(&open))).await.0, 200, "{open}");
    }
    // And the signed-in client (a real client's flow) is served.
    assert_eq!(
        t.put(&rg_path("served"), json!({"location": "eastus"}))
            .await
            .0,
        201
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_none_serves_requests_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::for_tests(dir.path().to_path_buf());
    config.limits.auth = AuthMode::None;
    let t = TestArmlet::start_with(config, dir).await;
    assert_eq!(get_with(&t, None).await.0, 200);
    assert_eq!(get_with(&t, Some("Bearer garbage")).await.0, 200);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_past_arms_bucket_are_throttled_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::for_tests(dir.path().to_path_buf());
    config.limits.throttling = Throttling::Azure;
    let t = Arc::new(TestArmlet::start_with(config, dir).await);
    let url = t.url(&format!(
        "/subscriptions/{SUB}/resourcegroups?api-version=2024-11-01"
    ));
    let first = t.client.get(&url).send().await.unwrap();
    assert_eq!(
        first.headers()["x-ms-ratelimit-remaining-subscription-reads"],
        "249"
    );
    assert_eq!(
        first.headers()["x-ms-ratelimit-remaining-subscription-global-reads"],
        "3749"
    );
    // Readers in parallel drain the 250-token bucket faster than it refills (25 a second).
    let mut readers = Vec::new();
    for _ in 0..8 {
        let (t, url) = (t.clone(), url.clone());
        readers.push(tokio::spawn(async move {
            for _ in 0..100 {
                let r = t.client.get(&url).send().await.unwrap();
                if r.status().as_u16() == 429 {
                    let retry = r.headers()["retry-after"].to_str().unwrap().to_string();
                    return Some((retry, r.json::<Value>().await.unwrap()));
                }
                assert_eq!(r.status().as_u16(), 200);
            }
            None
        }));
    }
    let mut throttled = None;
    for r in readers {
        throttled = throttled.or(r.await.unwrap());
    }
    let (retry, body) = throttled.expect("a reader was throttled");
    assert!(retry.parse::<u64>().unwrap() >= 1);
    assert_eq!(body["error"]["code"], "SubscriptionRequestsThrottled");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Number of 'read' requests for subscription")
    );
    // Writes have their own bucket.
    assert_eq!(
        t.put(&rg_path("still-writable"), json!({"location": "eastus"}))
            .await
            .0,
        201
    );
    Arc::try_unwrap(t).ok().unwrap().stop().await;
}

/// Opens a TLS connection and sends the head of a PUT whose body never comes: the request
/// stays in flight (armlet is reading its body).
async fn stalled_request(
    t: &TestArmlet,
    token: &str,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let pem = std::fs::read(t.armlet.ca_cert()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile_certs(&pem) {
        roots.add(cert).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(t.armlet.addr).await.unwrap();
    let mut tls = connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let head = format!(
        "PUT /subscriptions/{SUB}/resourcegroups/slow?api-version=2024-11-01 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    tls
}

/// Whether armlet answered (or closed) a stalled request.
async fn answered(stream: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> bool {
    let mut byte = [0u8; 1];
    tokio::time::timeout(Duration::from_millis(50), stream.read(&mut byte))
        .await
        .is_ok()
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .map(|c| c.unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_cannot_hold_more_than_its_share_of_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::for_tests(dir.path().to_path_buf());
    config.limits.client_concurrency = 2;
    let t = TestArmlet::start_with(config, dir).await;
    let plain = client_for(&t.armlet.ca_cert());
    let token = access_token(&plain, &t.armlet.endpoint(), "runaway").await;
    // A stalled request holds its slot once armlet has read its headers; a poll that gets
    // there first takes the slot and the stalled request is refused instead, so a refused
    // one is replaced until both slots are held.
    let mut held = vec![
        stalled_request(&t, &token).await,
        stalled_request(&t, &token).await,
    ];
    let started = std::time::Instant::now();
    let refused = loop {
        let r = plain
            .get(t.url(&format!("/subscriptions/{SUB}?api-version=2024-11-01")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == 429 {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a third request was never refused"
        );
        for stream in held.iter_mut() {
            if answered(stream).await {
                *stream = stalled_request(&t, &token).await;
            }
        }
    };
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"]["code"],
        "TooManyRequests"
    );
    // Everyone else is served meanwhile.
    assert_eq!(
        t.get(&format!("/subscriptions/{SUB}?api-version=2024-11-01"))
            .await
            .0,
        200
    );
    drop(held);
    // And the runaway itself is served again once its requests end.
    eventually(Duration::from_secs(10), || async {
        let r = plain
            .get(t.url(&format!("/subscriptions/{SUB}?api-version=2024-11-01")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        (r.status().as_u16() == 200).then_some(())
    })
    .await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_urls_and_bodies_get_arm_errors() {
    let t = TestArmlet::start().await;
    let (s, body) = send(
        t.client
            .get(t.url(&format!("/subscriptions/{SUB}?api-version=2024-11-01")))
            .header("x-filler", "a".repeat(17 * 1024)),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("RequestHeaderTooLong"))
    );
    let long = "n".repeat(300);
    let (s, body) = t
        .get(&format!(
            "/subscriptions/{SUB}/resourcegroups/{long}?api-version=2024-11-01"
        ))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("InvalidUrl"))
    );
    let (s, body) = send(
        t.client
            .put(t.url(&rg_path("big")))
            .header("content-type", "application/json")
            .body(vec![b' '; 4 * 1024 * 1024 + 1]),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (413, Some("RequestContentTooLarge"))
    );
    assert_eq!(t.get(&rg_path("big")).await.0, 404);
    t.stop().await;
}
