//! The sandbox against the project's own tool specs and HTTP client: the method table agrees
//! with the tools, and every tool's request, built by the tool and sent by `ApiClient`, gets a
//! LiveChat answer.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::{
    client::ApiClient,
    config::{Credentials, Settings},
    error::ApiError,
    sandbox::{Sandbox, SandboxOptions, methods},
    tools,
    version::ApiVersion,
};

#[test]
fn the_method_table_matches_the_tool_specs() {
    let specs: Vec<_> = tools::all().collect();
    assert_eq!(
        specs.len() + methods::NOT_TOOLS.len(),
        methods::METHODS.len()
    );
    for spec in specs {
        let m = methods::find(spec.name)
            .unwrap_or_else(|| panic!("no sandbox method for {}", spec.name));
        assert_eq!(m.api, spec.api(), "{}", spec.name);
        assert_eq!(m.versions, spec.versions, "{}", spec.name);
        let sets = |r: crate::scopes::Requirement| -> BTreeSet<BTreeSet<&str>> {
            r.sets()
                .iter()
                .map(|set| set.iter().copied().collect())
                .collect()
        };
        assert_eq!(sets(m.scopes), sets(spec.scopes), "{}", spec.name);
    }
}

fn fixture_args(version: ApiVersion) -> Vec<(String, String, Value)> {
    let path = format!(
        "{}/tests/fixtures/sdk/v{version}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    file["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["tool"].as_str().unwrap().to_string(),
                c["case"].as_str().unwrap().to_string(),
                c["args"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_api_client_gets_livechat_answers_from_the_sandbox() {
    for version in ApiVersion::ALL {
        let handle = Sandbox::new(SandboxOptions::default())
            .unwrap()
            .spawn("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let mut settings = Settings::new(handle.url.clone());
        settings.version = version;
        settings.credentials = Credentials::from_values(Some("dal:sandbox-token"), None, None);
        let client = ApiClient::new(&settings);
        let mut answered = 0;
        for (tool, case, args) in fixture_args(version) {
            let spec = tools::find(&tool).unwrap();
            let Ok(body) = spec.request(args, None) else {
                continue;
            };
            match client.call_body(spec.api(), spec.name, &body).await {
                Ok(_) => answered += 1,
                Err(ApiError::LiveChat { kind, message, .. }) => {
                    assert_ne!(
                        kind.as_str(),
                        "internal",
                        "v{version} {tool}/{case}: {message}"
                    );
                    assert!(
                        !message.contains("is not a field"),
                        "v{version} {tool}/{case}: {message}"
                    );
                }
                Err(other) => panic!("v{version} {tool}/{case}: {other:?}"),
            }
        }
        assert!(answered > 60, "v{version}: only {answered} successes");
        handle.shutdown().await.unwrap();
    }
}
