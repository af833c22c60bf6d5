//! Where a deployment lives ([`Target`]): its id, storage key, and parsing of deployment ids.

use super::TYPE;

/// Where a deployment lives: a resource group, or the subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub sub: String,
    pub rg: Option<String>,
    pub name: String,
}

impl Target {
    pub fn id(&self) -> String {
        match &self.rg {
            Some(rg) => format!(
                "/subscriptions/{}/resourceGroups/{rg}/providers/{TYPE}/{}",
                self.sub, self.name
            ),
            None => format!("/subscriptions/{}/providers/{TYPE}/{}", self.sub, self.name),
        }
    }

    pub fn key(&self) -> String {
        self.id().to_ascii_lowercase()
    }

    /// The target of a deployment id.
    pub fn parse(id: &str) -> Option<Target> {
        let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
        let tail = |rest: &[&str]| match rest {
            [p, ns, ty, name]
                if p.eq_ignore_ascii_case("providers")
                    && format!("{ns}/{ty}").eq_ignore_ascii_case(TYPE) =>
            {
                Some(name.to_string())
            }
            _ => None,
        };
        match parts.as_slice() {
            ["subscriptions", sub, rg_kw, rg, rest @ ..]
                if rg_kw.eq_ignore_ascii_case("resourceGroups") =>
            {
                Some(Target {
                    sub: sub.to_string(),
                    rg: Some(rg.to_string()),
                    name: tail(rest)?,
                })
            }
            ["subscriptions", sub, rest @ ..] => Some(Target {
                sub: sub.to_string(),
                rg: None,
                name: tail(rest)?,
            }),
            _ => None,
        }
    }
}
