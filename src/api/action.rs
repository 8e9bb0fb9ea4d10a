//! The one enum of every essbasic action, implemented or not.

use std::fmt;
use std::str::FromStr;

macro_rules! essbasic_actions {
    ($($name:ident,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $($name,)*
        }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$name,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Action::$name => stringify!($name),)* }
            }
        }

        impl FromStr for Action {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $(stringify!($name) => Ok(Action::$name),)* _ => Err(()) }
            }
        }
    };
}

include!("actions.rs");

impl Action {
    /// Position in [`Action::ALL`], for per-action tables.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enum_lists_every_action_of_the_schema() {
        let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        let schema: Vec<&str> = crate::api::schema::Schema::get().action_names().collect();
        assert_eq!(names, schema);
        assert_eq!(names.len(), 101);
    }

    #[test]
    fn an_action_parses_from_its_exact_name_only() {
        assert_eq!(
            "ChannelCreateFlowGroupByTemplates".parse::<Action>(),
            Ok(Action::ChannelCreateFlowGroupByTemplates)
        );
        assert_eq!("channelcreateflowgroupbytemplates".parse::<Action>(), Err(()));
        assert_eq!(Action::ALL[Action::DescribeTemplates.index()], Action::DescribeTemplates);
    }
}
