//! Unit tests of template links: URI combination, local paths, reading and content versions.

use super::*;

#[test]
fn relative_paths_combine_with_the_parent_uri() {
    let base = "file:///srv/qs/azuredeploy.json";
    assert_eq!(
        combine(base, "nested/lb.json"),
        "file:///srv/qs/nested/lb.json"
    );
    assert_eq!(
        combine(base, "./nested/lb.json"),
        "file:///srv/qs/nested/lb.json"
    );
    assert_eq!(
        combine(base, "../shared/x.json"),
        "file:///srv/shared/x.json"
    );
    assert_eq!(combine(base, "/abs/x.json"), "file:///abs/x.json");
    assert_eq!(
        combine("https://h.blob/c/main.json?sv=1&sig=2", "n/x.json"),
        "https://h.blob/c/n/x.json?sv=1&sig=2"
    );
    assert_eq!(combine("/srv/main.json", "x.json"), "/srv/x.json");
}

#[test]
fn local_paths_from_file_uris_and_absolute_paths() {
    assert_eq!(
        local_path("file:///tmp/a%20b/t.json?sv=1"),
        Some(PathBuf::from("/tmp/a b/t.json"))
    );
    assert_eq!(
        local_path("FILE://localhost/tmp/t.json"),
        Some(PathBuf::from("/tmp/t.json"))
    );
    assert_eq!(
        local_path("/tmp/t.json#x"),
        Some(PathBuf::from("/tmp/t.json"))
    );
    assert_eq!(local_path("https://raw.githubusercontent.com/x.json"), None);
    assert_eq!(local_path("file://server/share/x.json"), None);
    assert_eq!(local_path("t.json"), None);
}

#[test]
fn link_uris_need_uri_or_relative_path_and_a_linked_parent() {
    let m = |v: Value| v.as_object().unwrap().clone();
    assert_eq!(
        resolve(
            &m(json!({"uri": "file:///t.json", "queryString": "?a=1"})),
            None,
            "d"
        )
        .unwrap(),
        "file:///t.json?a=1"
    );
    let e = resolve(&m(json!({"relativePath": "x.json"})), None, "d").unwrap_err();
    assert_eq!(e.code, "InvalidContentLink");
    assert!(e.message.contains("relativePath"), "{}", e.message);
    assert_eq!(
        resolve(
            &m(json!({"relativePath": "x.json"})),
            Some("file:///a/b.json"),
            "d"
        )
        .unwrap(),
        "file:///a/x.json"
    );
    assert!(resolve(&m(json!({"uri": "t.json"})), None, "d").is_err());
    assert!(
        resolve(
            &m(json!({"uri": "file:///a", "relativePath": "b"})),
            None,
            "d"
        )
        .is_err()
    );
    assert!(resolve(&m(json!({})), None, "d").is_err());
}

#[tokio::test]
async fn remote_and_missing_links_are_invalid_content_links() {
    let e = read_json("https://raw.githubusercontent.com/Azure/x/azuredeploy.json")
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidContentLink");
    assert!(e.message.starts_with("Unable to download deployment content from 'https://raw.githubusercontent.com/Azure/x/azuredeploy.json'"), "{}", e.message);
    assert!(e.message.contains("no internet access"), "{}", e.message);
    let e = read_json("file:///nonexistent/armlet/t.json")
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidContentLink");
    assert!(e.message.contains("cannot be read"), "{}", e.message);
    let e = read_json("ftp://x/t.json").await.unwrap_err();
    assert!(e.message.contains("file://"), "{}", e.message);
}

#[tokio::test]
async fn templates_load_with_content_version_checks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.json");
    std::fs::write(
        &path,
        "// comment\n{\"contentVersion\": \"1.0.0.0\", \"resources\": [],}",
    )
    .unwrap();
    let uri = format!("file://{}", path.display());
    let ok = template(&json!({"uri": uri, "contentVersion": "1.0.0.0"}), None, "d")
        .await
        .unwrap();
    assert_eq!(ok.content["resources"], json!([]));
    assert_eq!(ok.link, json!({"uri": uri, "contentVersion": "1.0.0.0"}));
    let e = template(&json!({"uri": uri, "contentVersion": "2.0.0.0"}), None, "d")
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidTemplate");
    assert!(e.message.contains("The content version contained in the template '1.0.0.0' does not match the content version found in the deployment object's TemplateLink property '2.0.0.0'"), "{}", e.message);
    let nested = template(
        &json!({"relativePath": "t.json"}),
        Some(&format!("file://{}/main.json", dir.path().display())),
        "n",
    )
    .await
    .unwrap();
    assert_eq!(nested.link["relativePath"], "t.json");
    assert_eq!(nested.link["uri"], json!(uri));
    let e = template(&json!({"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Resources/templateSpecs/t/versions/1"}), None, "d")
        .await
        .unwrap_err();
    assert!(e.message.contains("template spec"), "{}", e.message);
    let e = parameters(&json!({"contentVersion": "1.0.0.0"}), "d")
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidContentLink");
}
