//! ID newtypes: a run id cannot be passed where a lease id is wanted. Each is the row id
//! of its table, shown and serialised as the bare number.

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The number (for SQL and the wire).
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id!(
    /// A sweep.
    SweepId
);
id!(
    /// A run of a sweep.
    RunId
);
id!(
    /// An attempt at a run: the lease a worker holds while it trains the run.
    LeaseId
);
id!(
    /// A registered worker.
    WorkerId
);
