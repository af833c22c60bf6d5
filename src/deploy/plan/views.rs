//! How a plan appears in the deployment document: `properties.dependencies` and
//! `properties.providers`.

use serde_json::{Value, json};

use super::Plan;

impl Plan {
    /// `properties.dependencies` of the deployment document.
    pub fn dependencies_view(&self) -> Value {
        let mut out = Vec::new();
        for (i, inst) in self.instances.iter().enumerate() {
            let deps: Vec<Value> = self
                .graph
                .dependencies(i)
                .map(|d| self.instances[d].reference())
                .collect();
            if !deps.is_empty() {
                let mut entry = inst.reference();
                entry["dependsOn"] = Value::Array(deps);
                out.push(entry);
            }
        }
        Value::Array(out)
    }

    /// `properties.providers`: the namespaces and types the template uses.
    pub fn providers_view(&self) -> Value {
        // (namespace, [(type, locations)])
        type Types = Vec<(String, Vec<String>)>;
        let mut by_ns: Vec<(String, Types)> = Vec::new();
        for inst in &self.instances {
            let (ns, ty) = inst
                .type_name
                .split_once('/')
                .unwrap_or((&inst.type_name, ""));
            let location = inst
                .raw
                .get("location")
                .and_then(Value::as_str)
                .filter(|l| !l.starts_with('['));
            let entry = match by_ns.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(ns)) {
                Some(e) => e,
                None => {
                    by_ns.push((ns.to_string(), Vec::new()));
                    by_ns.last_mut().expect("just pushed")
                }
            };
            match entry.1.iter_mut().find(|(t, _)| t.eq_ignore_ascii_case(ty)) {
                Some((_, locs)) => locs.extend(location.map(str::to_string)),
                None => entry.1.push((
                    ty.to_string(),
                    location.map(str::to_string).into_iter().collect(),
                )),
            }
        }
        Value::Array(
            by_ns
                .into_iter()
                .map(|(ns, types)| {
                    let types: Vec<Value> = types
                        .into_iter()
                        .map(|(t, mut locs)| {
                            locs.sort();
                            locs.dedup();
                            json!({"resourceType": t, "locations": locs})
                        })
                        .collect();
                    json!({"namespace": ns, "resourceTypes": types})
                })
                .collect(),
        )
    }
}
