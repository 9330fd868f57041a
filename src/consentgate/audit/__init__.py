"""The browser audit: scenarios run in Chromium, what they saw, the judgement against the policy,
the report, and the pytest plugin built on the same parts. Sits on top of enforce and banner."""
