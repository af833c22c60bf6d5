//! Identifier-generating template functions: `uniqueString` (Azure's
//! 64-bit MurmurHash variant rendered as 13 base32 characters), `guid` (a
//! name-based UUID v5 in ARM's namespace) and `newGuid` (random, parameter
//! defaults only). Both deterministic functions join their string arguments
//! with '-' first, so results match Azure for the same inputs.

use serde_json::Value;
use uuid::Uuid;

use super::{Call, Handler};
use crate::deploy::expr::ExprError;

/// The namespace ARM uses for `guid()`'s name-based UUIDs.
const GUID_NAMESPACE: Uuid = Uuid::from_u128(0x11fb06fb_712d_4ddd_98c7_e71bbd588830);

/// The alphabet `uniqueString` encodes its hash with.
const BASE32_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

pub(super) const FUNCTIONS: &[(&str, Handler)] = &[
    ("uniqueString", |c| {
        Ok(Value::String(unique_string(&joined_arguments(c)?)))
    }),
    ("guid", |c| {
        let name = joined_arguments(c)?;
        Ok(Value::String(
            Uuid::new_v5(&GUID_NAMESPACE, name.as_bytes()).to_string(),
        ))
    }),
    ("newGuid", |c| {
        c.exact(0)?;
        c.require_nondeterministic()?;
        Ok(Value::String(c.cx.new_guid().to_string()))
    }),
];

/// One or more string arguments joined with '-'.
fn joined_arguments(c: &Call) -> Result<String, ExprError> {
    c.arity(1, None)?;
    let parts = (0..c.args.len())
        .map(|i| c.string(i))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join("-"))
}

/// ARM's `uniqueString`: a 64-bit hash of the UTF-8 bytes, written as the
/// first 13 base32 digits (5 bits each, most significant first).
pub(crate) fn unique_string(input: &str) -> String {
    let mut hash = murmur_hash64(input.as_bytes());
    (0..13)
        .map(|_| {
            let digit = (hash >> 59) as usize;
            hash <<= 5;
            char::from(BASE32_ALPHABET[digit])
        })
        .collect()
}

/// The 64-bit MurmurHash variant used by Azure Resource Manager: two
/// 32-bit lanes over 8-byte blocks with seed 0, combined at the end.
fn murmur_hash64(data: &[u8]) -> u64 {
    const C1: u32 = 0x239b_961b;
    const C2: u32 = 0xab0e_9789;

    let mix_k1 = |k: u32| k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    let mix_k2 = |k: u32| k.wrapping_mul(C2).rotate_left(17).wrapping_mul(C1);
    let read = |bytes: &[u8]| {
        bytes
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (8 * i))
    };

    let (mut h1, mut h2) = (0u32, 0u32);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        h1 = (h1 ^ mix_k1(read(&block[..4])))
            .rotate_left(19)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x561c_cd1b);
        h2 = (h2 ^ mix_k2(read(&block[4..])))
            .rotate_left(13)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x0bca_a747);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        h1 ^= mix_k1(read(&tail[..tail.len().min(4)]));
        if tail.len() > 4 {
            h2 ^= mix_k2(read(&tail[4..]));
        }
    }

    let len = data.len() as u32;
    let fmix = |mut h: u32| {
        h = (h ^ (h >> 16)).wrapping_mul(0x85eb_ca6b);
        h = (h ^ (h >> 13)).wrapping_mul(0xc2b2_ae35);
        h ^ (h >> 16)
    };
    h2 ^= len;
    h1 = (h1 ^ len).wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (u64::from(h2) << 32) | u64::from(h1)
}

#[cfg(test)]
mod tests {
    use super::unique_string;
    use crate::deploy::test_support::{SUBSCRIPTION_ID, TestContext, eval_in, run, run_err};
    use serde_json::json;

    #[test]
    fn unique_string_matches_azure() {
        // Published input/output pairs from Bicep/ARM deployments.
        for (input, expected) in [
            ("test", "rbgf3xv4ufgzg"),
            ("hello-world", "a7wkljktk6wne"),
            ("abc", "cgtzqvhu4i23s"),
            (
                "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-rg",
                "bmg7c6xu4tw46",
            ),
            ("foo-bar-baz", "xzi4ioaxtmth4"),
        ] {
            assert_eq!(unique_string(input), expected, "uniqueString({input})");
        }
    }

    #[test]
    fn unique_string_function() {
        assert_eq!(
            run("uniqueString('hello', 'world')"),
            json!("a7wkljktk6wne")
        );
        assert_eq!(run("uniqueString('test')"), json!("rbgf3xv4ufgzg"));
        let id = run("uniqueString(resourceGroup().id)");
        assert_eq!(id.as_str().unwrap().len(), 13);
        assert_eq!(id, run("uniqueString(resourceGroup().id)"));
        assert_eq!(run("uniqueString('')").as_str().unwrap().len(), 13);
        assert!(run_err("uniqueString()").contains("'uniqueString' expects at least 1 argument"));
        assert!(run_err("uniqueString('a', 1)").contains("argument 2 to be of type 'String'"));
    }

    #[test]
    fn guid_is_arm_name_based_uuid() {
        // guid(...) is UUID v5 of the '-'-joined arguments in ARM's namespace.
        let expected = uuid::Uuid::new_v5(&super::GUID_NAMESPACE, b"a-b").to_string();
        assert_eq!(run("guid('a', 'b')"), json!(expected));
        let v = run(&format!("guid('{SUBSCRIPTION_ID}')"));
        let parsed = uuid::Uuid::parse_str(v.as_str().unwrap()).unwrap();
        assert_eq!(parsed.get_version_num(), 5);
        assert_ne!(run("guid('a')"), run("guid('A')"));
        assert!(run_err("guid()").contains("'guid' expects at least 1 argument"));
        assert!(run_err("guid(createArray())").contains("'guid' expects argument 1"));
    }

    #[test]
    fn new_guid_only_in_parameter_defaults() {
        assert_eq!(
            run_err("newGuid()"),
            "The template function 'newGuid' is not expected at this location. It can only be used in the default value of a parameter."
        );
        let cx = TestContext {
            allow_nondeterministic: true,
            ..TestContext::default()
        };
        assert_eq!(
            eval_in("newGuid()", &cx).unwrap(),
            json!("12345678-9abc-4def-8123-456789abcdef")
        );
        assert!(eval_in("newGuid(1)", &cx).is_err());
    }
}
