//! An authenticated caller: its tenant and the workspaces it may submit for, read, list and watch.

use std::collections::BTreeSet;

/// The workspace a tenant entry of `"*"` stands for: all of them.
pub const ANY_WORKSPACE: &str = "*";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceScope {
    All,
    Only(BTreeSet<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: String,
    pub workspaces: WorkspaceScope,
}

impl Principal {
    pub fn unrestricted(tenant: &str) -> Self {
        Self {
            tenant: tenant.to_string(),
            workspaces: WorkspaceScope::All,
        }
    }

    /// A principal from a configured list of workspaces, where `"*"` means every workspace.
    pub fn with_workspaces<I: IntoIterator<Item = String>>(tenant: String, workspaces: I) -> Self {
        let set: BTreeSet<String> = workspaces.into_iter().collect();
        let workspaces = if set.contains(ANY_WORKSPACE) {
            WorkspaceScope::All
        } else {
            WorkspaceScope::Only(set)
        };
        Self { tenant, workspaces }
    }

    pub fn may_use(&self, workspace_id: &str) -> bool {
        match &self.workspaces {
            WorkspaceScope::All => true,
            WorkspaceScope::Only(set) => set.contains(workspace_id),
        }
    }
}
