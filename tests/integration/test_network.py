"""How smtpsend reaches the server: only the `proxy` setting routes mail,
never the environment's proxy variables."""

import os
import unittest

from smtptest import SmtpTestCase, free_port


class EnvironmentProxiesIgnored(SmtpTestCase):
    def dead_proxy(self, scheme):
        # A port nobody listens on: a connection through it is refused.
        return "%s://127.0.0.1:%d" % (scheme, free_port())

    def assert_direct(self, **proxy_env):
        server = self.aio()
        r = self.run_smtpsend(["-s", "hi", "dev@example.com"], stdin=b"body\n",
                              **self.server_env(server, **proxy_env))
        self.assertExit(r, 0)
        self.assertEqual(len(server.messages), 1)
        self.assertEqual(server.messages[0]["rcpt_tos"], ["dev@example.com"])

    def test_ALL_PROXY_is_ignored(self):
        self.assert_direct(ALL_PROXY=self.dead_proxy("socks5h"))

    def test_all_proxy_is_ignored(self):
        self.assert_direct(all_proxy=self.dead_proxy("http"))

    def test_http_proxy_and_smtp_proxy_are_ignored(self):
        self.assert_direct(http_proxy=self.dead_proxy("http"), smtp_proxy=self.dead_proxy("http"),
                           smtps_proxy=self.dead_proxy("http"))

    def test_check_ignores_ALL_PROXY(self):
        server = self.aio()
        r = self.run_smtpsend(["check"], **self.server_env(server, ALL_PROXY=self.dead_proxy("socks5h")))
        self.assertExit(r, 0)


if __name__ == "__main__":
    unittest.main()
