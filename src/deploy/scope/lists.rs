//! `list*()` calls in a scope: what one call is, why it has no result, and how the scope
//! records results and names the calls the engine still has to perform.

use serde_json::Value;

use super::Scope;

/// One `list*()` call: what the engine performs (a POST of the action on the resource).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListCall {
    /// The function as written (`listKeys`), which is the action's name.
    pub function: String,
    /// The resource id, with the casing the template gave it.
    pub id: String,
    pub api_version: String,
    /// `functionValues`, serialized (`None`: no body).
    pub body: Option<String>,
}

/// Why a `list*()` call has no result.
#[derive(Debug, Clone, PartialEq)]
pub enum ListFailure {
    /// The resource does not exist (what-if defers such calls).
    Missing(String),
    /// Any other error, as its message.
    Invalid(String),
}

impl Scope {
    /// Records the result of a `list*()` call.
    pub fn record_list(&self, call: ListCall, result: Result<Value, ListFailure>) {
        self.refs
            .lock()
            .expect("refs lock")
            .lists
            .insert(call, result);
    }

    /// `list*()` calls an evaluation needed and that are not performed yet.
    pub fn take_missing_lists(&self) -> Vec<ListCall> {
        let mut refs = self.refs.lock().expect("refs lock");
        let mut calls = std::mem::take(&mut refs.missing_lists);
        calls.dedup();
        calls
    }

    /// The id a `list*()` argument names: a resource id as given, or the id of a template
    /// resource named by name or symbolic name.
    pub fn resolve_list_target(&self, name_or_id: &str) -> Result<String, String> {
        if name_or_id.starts_with('/') {
            return Ok(name_or_id.trim_end_matches('/').to_string());
        }
        let key = self.resolve_reference(name_or_id)?;
        let refs = self.refs.lock().expect("refs lock");
        Ok(refs
            .known
            .iter()
            .find(|k| k.key == key)
            .map(|k| k.id.clone())
            .unwrap_or(key))
    }
}
