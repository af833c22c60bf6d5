//! The VM sizes armlet knows: vCPUs and memory per SKU name (`Standard_B2s`, ...).
//!
//! Metrics need them: Azure reports `Percentage CPU` as a share of the VM's vCPUs and
//! `Available Memory Bytes` against the VM's memory. Figures are from Azure's size pages
//! (learn.microsoft.com/azure/virtual-machines/sizes/...: B-series burstable, Av2, Dv3/Dsv3,
//! Dv5/Dsv5, DSv2, Fsv2, Esv3). Names match case-insensitively, as ARM matches SKU names.
//!
//! Unknown sizes get [`resolve`]'s documented fallback rather than an error: the size is
//! validated (or not) where the scale set is created, and metrics must still be computable.

/// One VM size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmSize {
    /// Azure's name, canonical casing: `Standard_D2s_v5`.
    pub name: &'static str,
    pub vcpus: u32,
    pub memory_gib: f64,
}

impl VmSize {
    pub fn memory_bytes(&self) -> u64 {
        (self.memory_gib * 1024.0 * 1024.0 * 1024.0) as u64
    }
}

const fn size(name: &'static str, vcpus: u32, memory_gib: f64) -> VmSize {
    VmSize {
        name,
        vcpus,
        memory_gib,
    }
}

/// Every size armlet knows.
pub const SIZES: &[VmSize] = &[
    // B-series burstable
    size("Standard_B1ls", 1, 0.5),
    size("Standard_B1s", 1, 1.0),
    size("Standard_B1ms", 1, 2.0),
    size("Standard_B2s", 2, 4.0),
    size("Standard_B2ms", 2, 8.0),
    size("Standard_B4ms", 4, 16.0),
    size("Standard_B8ms", 8, 32.0),
    // Av2
    size("Standard_A1_v2", 1, 2.0),
    size("Standard_A2_v2", 2, 4.0),
    size("Standard_A4_v2", 4, 8.0),
    size("Standard_A8_v2", 8, 16.0),
    // DSv2 / Dv2
    size("Standard_DS1_v2", 1, 3.5),
    size("Standard_DS2_v2", 2, 7.0),
    size("Standard_DS3_v2", 4, 14.0),
    size("Standard_D1_v2", 1, 3.5),
    size("Standard_D2_v2", 2, 7.0),
    size("Standard_D3_v2", 4, 14.0),
    // Dv3 / Dsv3
    size("Standard_D2_v3", 2, 8.0),
    size("Standard_D4_v3", 4, 16.0),
    size("Standard_D2s_v3", 2, 8.0),
    size("Standard_D4s_v3", 4, 16.0),
    size("Standard_D8s_v3", 8, 32.0),
    size("Standard_D16s_v3", 16, 64.0),
    // Dv5 / Dsv5 (Standard_D2s_v5 is the az CLI's default VM size)
    size("Standard_D2_v5", 2, 8.0),
    size("Standard_D4_v5", 4, 16.0),
    size("Standard_D2s_v5", 2, 8.0),
    size("Standard_D4s_v5", 4, 16.0),
    size("Standard_D8s_v5", 8, 32.0),
    size("Standard_D16s_v5", 16, 64.0),
    // Fsv2
    size("Standard_F2s_v2", 2, 4.0),
    size("Standard_F4s_v2", 4, 8.0),
    size("Standard_F8s_v2", 8, 16.0),
    // Esv3
    size("Standard_E2s_v3", 2, 16.0),
    size("Standard_E4s_v3", 4, 32.0),
];

/// The size for a name armlet lists, case-insensitively.
pub fn lookup(name: &str) -> Option<&'static VmSize> {
    SIZES.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// What unknown sizes fall back to: the az CLI's default size (`Standard_D2s_v5`).
pub const FALLBACK: VmSize = size("Standard_D2s_v5", 2, 8.0);

/// The size to compute metrics with. A listed name is exact; otherwise the vCPU count is read
/// from Azure's naming scheme (`Standard_<family letters><vCPUs>...`, e.g. `Standard_D32s_v5`)
/// with the family's memory per vCPU (E: 8 GiB, F and A: 2 GiB, others: 4 GiB, the
/// general-purpose ratio); a name that does not follow the scheme gets [`FALLBACK`].
pub fn resolve(name: &str) -> VmSize {
    if let Some(s) = lookup(name) {
        return *s;
    }
    let Some(rest) = name
        .get(..9)
        .filter(|p| p.eq_ignore_ascii_case("Standard_"))
        .map(|_| &name[9..])
    else {
        return FALLBACK;
    };
    let family: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let digits: String = rest[family.len()..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let vcpus = match digits.parse::<u32>() {
        Ok(n) if n > 0 && !family.is_empty() => n,
        _ => return FALLBACK,
    };
    let per_vcpu = match family.to_ascii_uppercase().chars().next() {
        Some('E') => 8.0,
        Some('F') | Some('A') => 2.0,
        _ => 4.0,
    };
    VmSize {
        name: "(derived from the size name)",
        vcpus,
        memory_gib: vcpus as f64 * per_vcpu,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive_and_knows_the_common_sizes() {
        let b1s = lookup("standard_b1S").unwrap();
        assert_eq!(
            (b1s.name, b1s.vcpus, b1s.memory_gib),
            ("Standard_B1s", 1, 1.0)
        );
        assert_eq!(lookup("Standard_DS1_v2").unwrap().memory_gib, 3.5);
        assert_eq!(lookup("Standard_D8s_v3").unwrap().vcpus, 8);
        assert_eq!(lookup("Standard_F2s_v2").unwrap().memory_gib, 4.0);
        assert_eq!(lookup("Standard_A2_v2").unwrap().vcpus, 2);
        assert!(lookup("Standard_Z9").is_none());
    }

    #[test]
    fn names_are_unique() {
        for (i, a) in SIZES.iter().enumerate() {
            for b in &SIZES[i + 1..] {
                assert!(!a.name.eq_ignore_ascii_case(b.name), "{}", a.name);
            }
        }
    }

    #[test]
    fn unknown_sizes_are_derived_from_the_naming_scheme() {
        let d32 = resolve("Standard_D32s_v5");
        assert_eq!((d32.vcpus, d32.memory_gib), (32, 128.0));
        let e8 = resolve("standard_E8as_v5");
        assert_eq!((e8.vcpus, e8.memory_gib), (8, 64.0));
        let f16 = resolve("Standard_F16s_v2");
        assert_eq!((f16.vcpus, f16.memory_gib), (16, 32.0));
    }

    #[test]
    fn unparseable_names_fall_back_to_the_cli_default() {
        for name in [
            "",
            "big",
            "Standard_",
            "Standard_Dx",
            "Basic_A1",
            "Standard_0",
        ] {
            assert_eq!(resolve(name), FALLBACK, "{name}");
        }
        assert_eq!(resolve("Standard_B2s").name, "Standard_B2s");
        assert_eq!(FALLBACK.memory_bytes(), 8 * 1024 * 1024 * 1024);
    }
}
