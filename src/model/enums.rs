//! ARM enums: matched case-insensitively when read (clients send `tcp` as well as `Tcp`),
//! written in Azure's spelling. [`arm_enum!`] declares one with its serde and `FromStr`.

/// Declares an ARM string enum: `arm_enum!(Protocol { Tcp = "Tcp", Udp = "Udp" })`.
/// Unknown spellings fail to parse (the API validated stored documents, so a typed view
/// that meets one has found a defect, not user input).
#[macro_export]
macro_rules! arm_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in Azure's spelling.
            pub const ALL: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                $(if s.eq_ignore_ascii_case($text) {
                    return Ok(Self::$variant);
                })+
                Err(format!(
                    "'{s}' is not one of {}",
                    Self::ALL.join(", ")
                ))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    arm_enum!(Color { Red = "Red", DarkBlue = "DarkBlue" });

    #[test]
    fn parses_any_case_and_writes_azure_spelling() {
        let c: Color = serde_json::from_str("\"darkblue\"").unwrap();
        assert_eq!(c, Color::DarkBlue);
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"DarkBlue\"");
        assert!(
            "green"
                .parse::<Color>()
                .unwrap_err()
                .contains("Red, DarkBlue")
        );
    }
}
