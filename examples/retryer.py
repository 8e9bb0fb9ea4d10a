"""A retryer for the official Python SDK that judges each attempt on its own.

The SDK's `StandardRetryer` (tencentcloud-sdk-python-common 3.1.x) keeps the first attempt's
error across attempts: after a `RequestLimitExceeded`, an attempt that succeeds is still judged
by the old error, so the call is sent once more and then raises anyway. For an action that
creates something (ChannelCreateFlowGroupByTemplates) that is a duplicate group and a caller
told it failed.

This one retries only what is safe to send again: `RequestLimitExceeded` (and its sub-codes),
which qianshu, like Tencent, answers before the action runs, so nothing was created. A network
error or a 5xx may come after the action ran, so it is raised for the caller to check (for
example by reading the group back) rather than retried blindly.

    from retryer import JudgingRetryer
    profile = ClientProfile(httpProfile=hp, retryer=JudgingRetryer())
"""

import time

from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException


class JudgingRetryer:
    def __init__(self, max_attempts=3, backoff=lambda n: 2 ** n):
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.retries = 0

    def send_request(self, fn):
        for n in range(self.max_attempts):
            try:
                return fn()
            except TencentCloudSDKException as e:
                refused_before_running = (e.get_code() or "").startswith("RequestLimitExceeded")
                if not refused_before_running or n + 1 == self.max_attempts:
                    raise
            self.retries += 1
            time.sleep(self.backoff(n))
