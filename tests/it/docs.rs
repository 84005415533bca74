//! Generated documentation stays in step with the code.

use doppel_e2e::{TestContext, run, workspace_root};

/// docs/keywords/ is generated from the drivers' manifests (scripts/gen-keyword-docs).
#[test]
fn keyword_reference_is_up_to_date() {
    let ctx = TestContext::new();
    let (code, stdout, stderr) = run(ctx
        .doppel(["drivers", "list", "--format", "json"])
        .env("DOPPEL_DRIVER_PATH", ""));
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mut types: Vec<String> = doc["drivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["type"].as_str().unwrap().to_owned())
        .filter(|t| !t.ends_with(".test"))
        .collect();
    types.sort();
    let dir = workspace_root().join("docs/keywords");
    let mut documented: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".md")
                .map(str::to_owned)
        })
        .filter(|n| n != "README")
        .collect();
    documented.sort();
    let fix =
        "run scripts/gen-keyword-docs (after cargo build --workspace) and commit docs/keywords/";
    assert_eq!(
        documented, types,
        "docs/keywords/ does not list the first-party drivers: {fix}"
    );
    for t in &types {
        let (code, expected, stderr) = run(&mut ctx.doppel(["template", t, "--markdown"]));
        assert_eq!(code, 0, "{stderr}");
        let actual = std::fs::read_to_string(dir.join(format!("{t}.md"))).unwrap();
        assert!(actual == expected, "docs/keywords/{t}.md is stale: {fix}");
    }
}
