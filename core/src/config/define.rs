//! The macro that turns the hyperparameter table (`table.rs`) into code, so that each
//! hyperparameter's name, type, default, rule and help are written once: from one row it
//! generates the [`Hyperparams`](super::Hyperparams) field (with its doc), its default, and
//! its [`HyperparamDef`](super::HyperparamDef) entry in [`HYPERPARAMS`](super::HYPERPARAMS).

/// Expands the table. Each row is
/// `/// Help text.` then `name: Type = default[, rule];`, where `default` is one token
/// written as a user would write it on the command line (`64`, `3e-4`, `constant`, `none`)
/// and `rule` is a function of [`rules`](super::rules) checked by `validate`.
macro_rules! hyperparams {
    ($(
        #[doc = $help:literal]
        $name:ident: $ty:ty = $default:tt $(, $rule:path)?;
    )+) => {
        /// Every knob of one training run, one field per row of the table in `table.rs`.
        /// Field names are the sweep file's parameter names; the serde form is the record a
        /// run stores as its parameters.
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Hyperparams {
            $(
                #[doc = $help]
                pub $name: $ty,
            )+
        }

        impl Default for Hyperparams {
            fn default() -> Self {
                Self {
                    $(
                        $name: <$ty as HyperType>::from_text(stringify!($default))
                            .expect("every default of the table parses (tested)"),
                    )+
                }
            }
        }

        /// The table: one definition per hyperparameter, in the order of [`Hyperparams`].
        pub static HYPERPARAMS: &[HyperparamDef] = &[
            $(
                HyperparamDef {
                    name: stringify!($name),
                    kind: <$ty as HyperType>::KIND,
                    default: stringify!($default),
                    doc: $help,
                    get: |hp| hp.$name.to_json(),
                    set: |hp, value| {
                        <$ty as HyperType>::from_json(value).map(|v| hp.$name = v).is_some()
                    },
                    set_text: |hp, text| {
                        <$ty as HyperType>::from_text(text).map(|v| hp.$name = v).is_some()
                    },
                    check: |_hp| {
                        $( $rule(stringify!($name), &_hp.$name)?; )?
                        Ok(())
                    },
                },
            )+
        ];
    };
}

pub(crate) use hyperparams;
