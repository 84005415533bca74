//! The tools' paths, from the node config's `[driver.alt_disk]` table.

use doppel_plugin_api::{Problem, ResourceConfig};

/// The tools and their AIX paths, used when the node config does not say.
const TOOLS: &[(&str, &str)] = &[
    ("alt_disk_copy", "/usr/sbin/alt_disk_copy"),
    ("alt_rootvg_op", "/usr/sbin/alt_rootvg_op"),
    ("lspv", "/usr/sbin/lspv"),
    ("bootlist", "/usr/bin/bootlist"),
];
/// The keys of the node config's `[driver.alt_disk]` table this driver reads:
/// `bin` (a directory holding all four tools) and one key per tool (its full path,
/// winning over `bin`). Read by [`tool_path`] only.
pub const NODE_CONFIG_KEYS: &[&str] =
    &["bin", "alt_disk_copy", "alt_rootvg_op", "lspv", "bootlist"];

/// Where to run `tool` from: the node config's key named after the tool, else
/// `<bin>/<tool>`, else the tool's AIX path.
pub(crate) fn tool_path(config: &ResourceConfig, tool: &str) -> String {
    if let Some(path) = config.option(tool).map(str::trim).filter(|p| !p.is_empty()) {
        return path.to_owned();
    }
    if let Some(dir) = config.dir_option("bin") {
        return format!("{}/{tool}", dir.trim_end_matches('/'));
    }
    TOOLS
        .iter()
        .find(|(name, _)| *name == tool)
        .map(|(_, path)| (*path).to_owned())
        .unwrap_or_else(|| format!("/usr/sbin/{tool}"))
}

/// Per-tool node-config paths that are not full path names.
pub(crate) fn node_config_problems(config: &ResourceConfig) -> Vec<Problem> {
    TOOLS
        .iter()
        .filter_map(|(tool, _)| {
            let value = config.option(tool)?.trim();
            (!value.is_empty() && !value.starts_with('/')).then(|| {
                Problem::resource(format!(
                    "node config [driver.alt_disk] {tool} = '{value}': must be the full path of {tool}"
                ))
            })
        })
        .collect()
}
