//! Per-application, per-action call rates (Tencent's "默认接口请求频率限制：20次/秒"), kept in
//! memory on each node with governor's keyed GCRA limiters: one account's burst never throttles
//! another, nor another action.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota};

use crate::api::action::Action;

pub struct RateLimits {
    /// Indexed by [`Action::index`].
    per_action: Vec<DefaultKeyedRateLimiter<String>>,
}

impl RateLimits {
    pub fn new(default_per_second: u32, overrides: &BTreeMap<Action, u32>) -> RateLimits {
        let per_action = Action::ALL
            .iter()
            .map(|a| {
                let n = overrides.get(a).copied().unwrap_or(default_per_second);
                DefaultKeyedRateLimiter::keyed(Quota::per_second(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)))
            })
            .collect();
        RateLimits { per_action }
    }

    /// Does `app_id` still have room for one more call of `action` now?
    pub fn allow(&self, action: Action, app_id: &str) -> bool {
        let limiter = &self.per_action[action.index()];
        limiter.check_key(&app_id.to_owned()).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_over_the_limit_is_refused_for_that_account_and_action_only() {
        let limits = RateLimits::new(20, &BTreeMap::from([(Action::DescribeTemplates, 5)]));
        let allowed = (0..45).filter(|_| limits.allow(Action::ChannelCreateFlowGroupByTemplates, "a")).count();
        assert_eq!(allowed, 20);
        assert!(limits.allow(Action::ChannelCreateFlowGroupByTemplates, "b"));
        assert!(limits.allow(Action::DescribeFlowDetailInfo, "a"));
        assert_eq!((0..10).filter(|_| limits.allow(Action::DescribeTemplates, "a")).count(), 5);
    }
}
