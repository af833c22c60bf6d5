//! The VM image catalogue: the images armlet knows by alias (what `az vmss create --image
//! Ubuntu2204` resolves through) with their publisher, offer and SKU. Images are names
//! only: what an instance runs is decided by custom data or the image → command mapping.

use serde_json::Value;

/// (alias, OS, publisher, offer, sku, architecture, hyperV generation)
pub const IMAGES: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
    (
        "Ubuntu2204",
        "Linux",
        "Canonical",
        "0001-com-ubuntu-server-jammy",
        "22_04-lts-gen2",
        "x64",
        "V2",
    ),
    (
        "Ubuntu2404",
        "Linux",
        "Canonical",
        "ubuntu-24_04-lts",
        "server",
        "x64",
        "V2",
    ),
    (
        "Debian11",
        "Linux",
        "Debian",
        "debian-11",
        "11-backports-gen2",
        "x64",
        "V2",
    ),
    (
        "Debian12",
        "Linux",
        "Debian",
        "debian-12",
        "12-gen2",
        "x64",
        "V2",
    ),
    (
        "AzureLinux4",
        "Linux",
        "microsoftazurelinux",
        "azurelinux-4",
        "4",
        "x64",
        "V2",
    ),
    (
        "CentOS85Gen2",
        "Linux",
        "OpenLogic",
        "CentOS",
        "8_5-gen2",
        "x64",
        "V2",
    ),
    (
        "FlatcarLinuxFreeGen2",
        "Linux",
        "kinvolk",
        "flatcar-container-linux-free",
        "stable-gen2",
        "x64",
        "V2",
    ),
    (
        "OpenSuseLeap154Gen2",
        "Linux",
        "SUSE",
        "openSUSE-leap-15-4",
        "gen2",
        "x64",
        "V2",
    ),
    (
        "RHELRaw8LVMGen2",
        "Linux",
        "RedHat",
        "RHEL",
        "8-lvm-gen2",
        "x64",
        "V2",
    ),
    (
        "SuseSles15SP3",
        "Linux",
        "SUSE",
        "sles-15-sp3",
        "gen2",
        "x64",
        "V2",
    ),
    (
        "Win2022Datacenter",
        "Windows",
        "MicrosoftWindowsServer",
        "WindowsServer",
        "2022-datacenter-g2",
        "x64",
        "V2",
    ),
    (
        "Win2019Datacenter",
        "Windows",
        "MicrosoftWindowsServer",
        "WindowsServer",
        "2019-datacenter-gensecond",
        "x64",
        "V2",
    ),
];

pub fn find(
    publisher: &str,
    offer: &str,
    sku: &str,
) -> Option<&'static (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
)> {
    IMAGES.iter().find(|(_, _, p, o, s, _, _)| {
        p.eq_ignore_ascii_case(publisher)
            && o.eq_ignore_ascii_case(offer)
            && s.eq_ignore_ascii_case(sku)
    })
}

/// The alias of an image reference (`Ubuntu2204`), for the image → command mapping.
pub fn alias_of(image: &Value) -> Option<&'static str> {
    let s = |k: &str| image[k].as_str().unwrap_or_default().to_string();
    find(&s("publisher"), &s("offer"), &s("sku")).map(|i| i.0)
}
