//! A scale-set instance (Uniform `virtualMachines` or Flexible `virtualMachines`) as the API
//! and the runtime share it. Its row is the ARM document plus [`InstanceState`] under the
//! internal key: which model the instance runs, its power state, the generation of its
//! process and its loopback address.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::INTERNAL;

crate::arm_enum!(
    /// What the user asked the instance to be.
    PowerState {
        Running = "running",
        Stopped = "stopped",
        Deallocated = "deallocated",
    }
);

crate::arm_enum!(
    /// The power and lifecycle actions on instances (`POST .../{action}`).
    InstanceAction {
        Start = "start",
        PowerOff = "powerOff",
        Deallocate = "deallocate",
        Restart = "restart",
        Redeploy = "redeploy",
        Reimage = "reimage",
        ReimageAll = "reimageAll",
    }
);

/// armlet's own fields of an instance row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceState {
    /// The owning scale set's lower-case id.
    pub scale_set: String,
    /// The scale-set model version the instance runs.
    pub model_version: u64,
    /// The `virtualMachineProfile` of that model version.
    pub model: Value,
    pub power: PowerState,
    /// Order of creation within the scale set (a reimage does not change it).
    pub created: u64,
    /// Bumped by restart, reimage and model changes: a new generation is a new process.
    pub generation: u64,
    /// Bumped by reimage: the instance's directory is wiped before it starts again.
    #[serde(default)]
    pub reimages: u64,
    /// The loopback address the instance binds.
    pub bind_address: Ipv4Addr,
    /// A delete was asked for while the scale set sends terminate notifications: the
    /// instance runs on until its Scheduled Event starts, then the runtime deletes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_requested: bool,
}

impl InstanceState {
    /// Reads the state from an instance document.
    pub fn of(doc: &Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(&doc[INTERNAL])
    }

    /// Writes the state into an instance document.
    pub fn store(&self, doc: &mut Value) {
        doc[INTERNAL] = serde_json::to_value(self).expect("instance state serializes");
    }

    /// What an action changes; the runtime then makes the process match.
    pub fn apply(&mut self, action: InstanceAction) {
        match action {
            InstanceAction::Start => self.power = PowerState::Running,
            InstanceAction::PowerOff => self.power = PowerState::Stopped,
            InstanceAction::Deallocate => self.power = PowerState::Deallocated,
            // A new generation is a new process (redeploy moves it to "another host").
            InstanceAction::Restart | InstanceAction::Redeploy => self.generation += 1,
            InstanceAction::Reimage | InstanceAction::ReimageAll => {
                self.generation += 1;
                self.reimages += 1;
                self.power = PowerState::Running;
            }
        }
    }

    /// Moves to a model version: the instance restarts on it.
    pub fn apply_model(&mut self, version: u64, model: &Value) {
        self.model_version = version;
        self.model = model.clone();
        self.generation += 1;
    }
}

/// An instance as the runtime plans it: its identity and state.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// The row's lower-case id.
    pub key: String,
    pub name: String,
    /// `instanceId` as the API reports it (`3`, or a Flexible VM's name).
    pub instance_id: String,
    /// The VM size (`hardwareProfile.vmSize`, else `sku.name`); empty when neither is set.
    pub size: String,
    pub state: InstanceState,
}

impl Instance {
    pub fn of(doc: &Value) -> Result<Self, String> {
        let text = |k: &str| {
            doc[k]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("instance document without '{k}'"))
        };
        Ok(Instance {
            key: text("id")?.to_ascii_lowercase(),
            name: text("name")?,
            instance_id: text("instanceId")?,
            size: doc["properties"]["hardwareProfile"]["vmSize"]
                .as_str()
                .or(doc["sku"]["name"].as_str())
                .unwrap_or_default()
                .to_string(),
            state: InstanceState::of(doc).map_err(|e| e.to_string())?,
        })
    }

    /// The scale set's name: instance names are `{scale set}_{suffix}`.
    pub fn scale_set_name(&self) -> &str {
        self.name.rsplit_once('_').map_or(&self.name, |(s, _)| s)
    }
}

/// The scale set's own bookkeeping under the internal key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleSetState {
    /// Bumped whenever `virtualMachineProfile` changes.
    pub model_version: u64,
    /// The next Uniform instance id (ids are never reused).
    pub next_instance_id: u64,
    /// Instances created so far (the next instance's creation order).
    pub created: u64,
}

impl Default for ScaleSetState {
    fn default() -> Self {
        ScaleSetState {
            model_version: 1,
            next_instance_id: 0,
            created: 0,
        }
    }
}

impl ScaleSetState {
    pub fn of(doc: &Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(&doc[INTERNAL])
    }

    pub fn store(&self, doc: &mut Value) {
        doc[INTERNAL] = serde_json::to_value(self).expect("scale set state serializes");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn state_round_trips_through_the_stored_document() {
        let mut doc = json!({"id": "/S/VMSS/web/virtualMachines/3", "name": "web_3", "instanceId": "3",
            "_armlet": {"scaleSet": "/s/vmss/web", "modelVersion": 2, "model": {"a": 1}, "power": "stopped",
                "created": 4, "generation": 1, "bindAddress": "127.2.0.9"}});
        let mut inst = Instance::of(&doc).unwrap();
        assert_eq!(inst.key, "/s/vmss/web/virtualmachines/3");
        assert_eq!(inst.scale_set_name(), "web");
        assert_eq!(inst.state.power, PowerState::Stopped);
        assert_eq!(inst.state.reimages, 0);
        inst.state.apply_model(3, &json!({"b": 2}));
        inst.state.store(&mut doc);
        assert_eq!(doc["_armlet"]["modelVersion"], 3);
        assert_eq!(doc["_armlet"]["generation"], 2);
        assert_eq!(doc["_armlet"]["bindAddress"], "127.2.0.9");
        assert_eq!(InstanceState::of(&doc).unwrap(), inst.state);
    }

    #[test]
    fn the_size_is_the_vm_size_else_the_sku() {
        let state = json!({"scaleSet": "s", "modelVersion": 1, "model": {}, "power": "running",
            "created": 0, "generation": 0, "bindAddress": "127.2.0.1"});
        let doc = |extra: serde_json::Value| {
            let mut d = json!({"id": "/s/vm/web_1", "name": "web_1", "instanceId": "web_1", "_armlet": state});
            d.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            Instance::of(&d).unwrap().size
        };
        assert_eq!(
            doc(
                json!({"sku": {"name": "Standard_B1s"}, "properties": {"hardwareProfile": {"vmSize": "Standard_D4s_v5"}}})
            ),
            "Standard_D4s_v5"
        );
        assert_eq!(
            doc(json!({"sku": {"name": "Standard_B1s"}})),
            "Standard_B1s"
        );
        assert_eq!(doc(json!({})), "");
    }

    #[test]
    fn actions_change_power_generation_and_reimages() {
        let doc = json!({"_armlet": {"scaleSet": "s", "modelVersion": 1, "model": {}, "power": "running",
            "created": 0, "generation": 0, "bindAddress": "127.2.0.1"}});
        let mut s = InstanceState::of(&doc).unwrap();
        s.apply("poweroff".parse().unwrap());
        assert_eq!((s.power, s.generation), (PowerState::Stopped, 0));
        s.apply(InstanceAction::Restart);
        assert_eq!(
            (s.power, s.generation),
            (PowerState::Stopped, 1),
            "restart keeps power"
        );
        s.apply(InstanceAction::Reimage);
        assert_eq!(
            (s.power, s.generation, s.reimages),
            (PowerState::Running, 2, 1)
        );
        s.apply(InstanceAction::Deallocate);
        s.apply(InstanceAction::Start);
        assert_eq!(s.power, PowerState::Running);
    }
}
