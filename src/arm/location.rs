//! Azure regions. Locations are normalised the way ARM does (`"East US"` → `eastus`) and
//! checked against the public regions, so a typo fails here as it would in Azure.

use super::error::ArmError;

/// Public Azure regions (normalised names) with their display names.
pub const REGIONS: &[(&str, &str)] = &[
    ("eastus", "East US"),
    ("eastus2", "East US 2"),
    ("southcentralus", "South Central US"),
    ("westus2", "West US 2"),
    ("westus3", "West US 3"),
    ("australiaeast", "Australia East"),
    ("southeastasia", "Southeast Asia"),
    ("northeurope", "North Europe"),
    ("swedencentral", "Sweden Central"),
    ("uksouth", "UK South"),
    ("westeurope", "West Europe"),
    ("centralus", "Central US"),
    ("southafricanorth", "South Africa North"),
    ("centralindia", "Central India"),
    ("eastasia", "East Asia"),
    ("japaneast", "Japan East"),
    ("koreacentral", "Korea Central"),
    ("canadacentral", "Canada Central"),
    ("francecentral", "France Central"),
    ("germanywestcentral", "Germany West Central"),
    ("italynorth", "Italy North"),
    ("norwayeast", "Norway East"),
    ("polandcentral", "Poland Central"),
    ("spaincentral", "Spain Central"),
    ("switzerlandnorth", "Switzerland North"),
    ("mexicocentral", "Mexico Central"),
    ("uaenorth", "UAE North"),
    ("brazilsouth", "Brazil South"),
    ("israelcentral", "Israel Central"),
    ("qatarcentral", "Qatar Central"),
    ("northcentralus", "North Central US"),
    ("westus", "West US"),
    ("westcentralus", "West Central US"),
    ("japanwest", "Japan West"),
    ("australiasoutheast", "Australia Southeast"),
    ("australiacentral", "Australia Central"),
    ("canadaeast", "Canada East"),
    ("ukwest", "UK West"),
    ("southindia", "South India"),
    ("westindia", "West India"),
    ("koreasouth", "Korea South"),
    ("francesouth", "France South"),
    ("germanynorth", "Germany North"),
    ("norwaywest", "Norway West"),
    ("switzerlandwest", "Switzerland West"),
    ("uaecentral", "UAE Central"),
    ("brazilsoutheast", "Brazil Southeast"),
    ("southafricawest", "South Africa West"),
    ("newzealandnorth", "New Zealand North"),
    ("indonesiacentral", "Indonesia Central"),
    ("malaysiawest", "Malaysia West"),
    ("chilecentral", "Chile Central"),
];

/// `"East US"` → `"eastus"`.
pub fn normalize(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

pub fn is_known(normalized: &str) -> bool {
    REGIONS.iter().any(|(n, _)| *n == normalized)
}

/// Normalises a location a resource of `type_name` is created in, or explains why it can't be.
pub fn parse_for(location: &str, type_name: &str) -> Result<String, ArmError> {
    let n = normalize(location);
    if is_known(&n) {
        return Ok(n);
    }
    let known: Vec<&str> = REGIONS.iter().map(|(_, d)| *d).collect();
    Err(ArmError::bad_request(
        "LocationNotAvailableForResourceType",
        format!(
            "The provided location '{location}' is not available for resource type '{type_name}'. List of available regions for the resource type is '{}'.",
            known.join(",").to_lowercase().replace(' ', "")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_normalise() {
        assert_eq!(normalize("East US 2"), "eastus2");
        assert!(parse_for("West Europe", "Microsoft.Network/loadBalancers").is_ok());
        let e = parse_for("mars", "Microsoft.Network/loadBalancers").unwrap_err();
        assert_eq!(e.code, "LocationNotAvailableForResourceType");
    }
}
