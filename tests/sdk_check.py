#!/usr/bin/env python3
"""Drive `mailtrap-access sandbox` with Mailtrap's official Python SDK.

A check nobody in this project wrote: if the sandbox answers the way the real service
does, the SDK (pinned in tests/requirements-sdk.txt) must be able to list accesses, get
the resource tree, bulk-update and delete, list, show, create and delete API tokens,
and must raise its own exception types for the 401, 403, 404 and 422 answers. The SDK always builds `https://mailtrap.io/...`
URLs, so the script re-points `mailtrap.http.HttpClient._url` at the sandbox.

Usage: sdk_check.py [PATH_TO_mailtrap-access]   (default: target/debug/mailtrap-access)
It starts `PATH sandbox --listen 127.0.0.1:0 --token T` itself (demo account), reads
the port from its first stdout line, and exits non-zero if any check fails.
"""

import os
import secrets
import subprocess
import sys
import traceback

import pydantic
import requests

import mailtrap
import mailtrap.http
from mailtrap import (
    APIError,
    ApiTokenResource,
    AuthorizationError,
    CreateApiTokenParams,
    PermissionResourceParams,
    ResetApiTokenParams,
)
from mailtrap.models.accounts import AccountAccess, AccountAccessFilterParams

ACCOUNT = 1111111
OWNER, ALICE, BOB, CAROL, DAVE = 5190001, 5190002, 5190003, 5190004, 5190005
ERIN_INVITE, FRANK_INVITE = 5190007, 5190008
CI_DEPLOY, LEGACY_IMPORT = 61001, 61002
BACKEND, FRONTEND, BACKEND_STAGING, ACME_COM = 3301001, 3301002, 4400101, 204301

RESULTS = {"passed": 0, "failed": 0}


def check(name):
    """Run the decorated function now as one named check; record pass or fail."""

    def run(function):
        try:
            function()
        except Exception:  # any failure, assertion or SDK error, fails this check only
            RESULTS["failed"] += 1
            print(f"FAIL {name}")
            traceback.print_exc()
        else:
            RESULTS["passed"] += 1
            print(f"ok   {name}")
        return function

    return run


def expect_raises(exception_type, call):
    try:
        call()
    except exception_type as error:
        return error
    raise AssertionError(f"expected {exception_type.__name__}, nothing was raised")


def start_sandbox(binary, token):
    process = subprocess.Popen(
        [binary, "sandbox", "--listen", "127.0.0.1:0", "--token", token],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    line = process.stdout.readline().strip()
    prefix = "listening on "
    if not line.startswith(prefix):
        process.kill()
        _, stderr = process.communicate(timeout=10)
        sys.exit(f"sdk_check: the sandbox did not start: {line!r} {stderr.strip()}")
    return process, line[len(prefix):]


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join("target", "debug", "mailtrap-access")
    if not os.access(binary, os.X_OK):
        sys.exit(f"sdk_check: no sandbox binary at {binary} (build it with cargo build)")
    token = secrets.token_hex(16)
    process, base_url = start_sandbox(binary, token)
    try:
        run_checks(base_url, token)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    print(f"sdk_check: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] or not RESULTS["passed"] else 0


def run_checks(base_url, token):
    original_url = mailtrap.http.HttpClient._url

    @check("the SDK builds https://mailtrap.io URLs, which is what gets re-pointed")
    def _():
        built = original_url(mailtrap.http.HttpClient(host="mailtrap.io"), "/api/accounts/1/account_accesses")
        assert built == "https://mailtrap.io/api/accounts/1/account_accesses", built

    # Every SDK request now goes to the sandbox, path and query untouched.
    mailtrap.http.HttpClient._url = lambda self, path: f"{base_url}/{path.lstrip('/')}"

    api = mailtrap.MailtrapClient(token=token).general_api
    wrong = mailtrap.MailtrapClient(token="not-the-token").general_api
    raw = requests.Session()
    raw.headers["Api-Token"] = token

    def raw_accesses(query=""):
        response = raw.get(f"{base_url}/api/accounts/{ACCOUNT}/account_accesses{query}")
        response.raise_for_status()
        return response.json()

    def raw_rows(access_id):
        for entry in raw_accesses():
            if entry["id"] == access_id:
                return {(row["resource_type"], row["resource_id"]): row["access_level"] for row in entry["resources"]}
        return None

    @check("permissions.get_resources returns the nested tree as PermissionResource objects")
    def _():
        tree = api.permissions.get_resources(ACCOUNT)
        assert len(tree) == 1 and tree[0].type == "account" and tree[0].id == ACCOUNT
        assert tree[0].access_level == 100
        children = {(node.type, node.id): node for node in tree[0].resources}
        assert ("billing", ACCOUNT) in children and ("email_campaign_permission_scope", ACCOUNT) in children
        backend, frontend = children[("project", BACKEND)], children[("project", FRONTEND)]
        assert [inbox.name for inbox in backend.resources] == ["Staging", "Production"]
        assert [inbox.name for inbox in frontend.resources] == ["Staging"]

    @check("account_accesses.get_list with a filter parses User entries (SDK sends key=1&key=2)")
    def _():
        accesses = api.account_accesses.get_list(
            ACCOUNT, AccountAccessFilterParams(project_ids=[str(BACKEND)], inbox_ids=[str(BACKEND_STAGING)])
        )
        assert [access.id for access in accesses] == [BOB, DAVE], [access.id for access in accesses]
        bob = accesses[0]
        assert bob.specifier_type == "User" and bob.specifier.email == "bob@acme.com"
        assert bob.permissions.can_update is True
        assert ("project", BACKEND, 100) in [(r.resource_type, r.resource_id, r.access_level) for r in bob.resources]

    @check("known SDK defect: get_list cannot parse a real Invite entry (specifier has only id and email)")
    def _():
        # The service's Invite specifier is {id, email}; SDK 2.11.0's Specifier model
        # requires name and two_factor_authentication_enabled too, so any account with a
        # pending invite breaks the unfiltered list. The sandbox stays faithful here.
        invite = next(entry for entry in raw_accesses() if entry["id"] == ERIN_INVITE)
        assert set(invite["specifier"]) == {"id", "email"}, invite
        error = expect_raises(pydantic.ValidationError, lambda: api.account_accesses.get_list(ACCOUNT))
        assert "specifier.name" in str(error), error
        error = expect_raises(pydantic.ValidationError, lambda: AccountAccess(**invite))
        assert "two_factor_authentication_enabled" in str(error), error

    @check("permissions.bulk_permissions_update upserts and destroys rows")
    def _():
        reply = api.permissions.bulk_permissions_update(
            ACCOUNT,
            BOB,
            [
                PermissionResourceParams(resource_id=str(FRONTEND), resource_type="project", access_level="viewer"),
                PermissionResourceParams(resource_id=str(BACKEND), resource_type="project", access_level="viewer"),
                PermissionResourceParams(resource_id=str(ACME_COM), resource_type="sending_domain", _destroy=True),
            ],
        )
        assert reply.message == "Permissions have been updated!", reply
        rows = raw_rows(BOB)
        assert rows[("project", FRONTEND)] == 10 and rows[("project", BACKEND)] == 10, rows
        assert ("sending_domain", ACME_COM) not in rows, rows

    def raw_tokens():
        response = raw.get(f"{base_url}/api/accounts/{ACCOUNT}/api_tokens")
        response.raise_for_status()
        return response

    def is_secret(value):
        return len(value) == 32 and all(c in "0123456789abcdef" for c in value)

    backend_viewer = [ApiTokenResource(resource_type="project", resource_id=BACKEND, access_level=10)]

    @check("api_tokens.get_list and get_by_id parse the tokens, and no read carries a secret")
    def _():
        tokens = api.api_tokens.get_list(ACCOUNT)
        assert [token.id for token in tokens] == [CI_DEPLOY, LEGACY_IMPORT], tokens
        ci = tokens[0]
        assert (ci.name, ci.created_by, ci.last_4_digits) == ("CI deploy", "Alice Admin", "2e8c"), ci
        assert ci.expires_at == "2027-06-30T23:59:59.000Z" and tokens[1].expires_at is None
        assert [(r.resource_type, r.resource_id, r.access_level) for r in ci.resources] == [("project", BACKEND, 10)]
        assert api.api_tokens.get_by_id(ACCOUNT, LEGACY_IMPORT) == tokens[1]
        assert all("token" not in entry for entry in raw_tokens().json())
        error = expect_raises(APIError, lambda: api.api_tokens.get_by_id(ACCOUNT, 4242))
        assert (error.status, error.errors) == (404, ["Not Found"]), (error.status, error.errors)

    @check("api_tokens.create returns the secret once (default expiry, or none); the list then shows it without")
    def _():
        created = api.api_tokens.create(ACCOUNT, CreateApiTokenParams(name="sdk", resources=backend_viewer))
        assert is_secret(created.token) and created.last_4_digits == created.token[-4:], created
        assert created.expires_at and created.expires_at.endswith("Z"), created
        never = api.api_tokens.create(
            ACCOUNT, CreateApiTokenParams(name="sdk forever", resources=backend_viewer, expires_at=None)
        )
        assert never.expires_at is None and never.token != created.token, never
        listed = raw_tokens()
        assert [entry["id"] for entry in listed.json()][-2:] == [created.id, never.id]
        assert created.token not in listed.text and never.token not in listed.text
        assert api.api_tokens.get_by_id(ACCOUNT, created.id).name == "sdk"

    @check("api_tokens.create raises APIError 422 for no resources, a past expiry and billing")
    def _():
        for params, message in [
            (CreateApiTokenParams(name="x", resources=[]), "base: No permissions selected. Please choose at least one."),
            (
                CreateApiTokenParams(name="x", resources=backend_viewer, expires_at="2020-01-01T00:00:00Z"),
                "base: Expiration date must be in the future",
            ),
        ]:
            error = expect_raises(APIError, lambda: api.api_tokens.create(ACCOUNT, params))
            assert (error.status, error.errors) == (422, [message]), (error.status, error.errors)
        billing = [ApiTokenResource(resource_type="billing", resource_id=ACCOUNT, access_level=10)]
        error = expect_raises(APIError, lambda: api.api_tokens.create(ACCOUNT, CreateApiTokenParams(name="x", resources=billing)))
        assert error.status == 422 and "cannot be held by an API token" in error.errors[0], error.errors

    @check("api_tokens.delete removes a token (204, empty); deleting it again raises APIError 404")
    def _():
        deleted = api.api_tokens.delete(ACCOUNT, CI_DEPLOY)
        assert deleted.id == CI_DEPLOY, deleted
        for call in (lambda: api.api_tokens.get_by_id(ACCOUNT, CI_DEPLOY), lambda: api.api_tokens.delete(ACCOUNT, CI_DEPLOY)):
            error = expect_raises(APIError, call)
            assert (error.status, error.errors) == (404, ["Not Found"]), (error.status, error.errors)

    @check("known SDK defect: api_tokens.reset cannot parse the reset answer (no last_4_digits, created_by)")
    def _():
        # The service's reset answer leaves out last_4_digits and created_by; SDK 2.11.0's
        # ApiTokenWithToken requires both, so the reset happens but the call raises. The
        # sandbox stays faithful here.
        error = expect_raises(
            pydantic.ValidationError, lambda: api.api_tokens.reset(ACCOUNT, LEGACY_IMPORT, ResetApiTokenParams(expires_at=None))
        )
        assert "last_4_digits" in str(error) and "created_by" in str(error), error
        listed = raw_tokens().json()
        assert LEGACY_IMPORT not in [entry["id"] for entry in listed], listed
        renewed = [entry for entry in listed if entry["name"] == "Legacy import"]
        assert len(renewed) == 1 and renewed[0]["expires_at"] is None, listed

    @check("account_accesses.delete removes a user and an invite")
    def _():
        for access_id in (CAROL, FRANK_INVITE):
            deleted = api.account_accesses.delete(ACCOUNT, access_id)
            assert deleted.id == access_id, deleted
        listed = [entry["id"] for entry in raw_accesses()]
        assert CAROL not in listed and FRANK_INVITE not in listed, listed

    @check("a wrong token raises AuthorizationError (401) on every call")
    def _():
        calls = [
            lambda: wrong.account_accesses.get_list(ACCOUNT),
            lambda: wrong.permissions.get_resources(ACCOUNT),
            lambda: wrong.account_accesses.delete(ACCOUNT, ALICE),
        ]
        for call in calls:
            error = expect_raises(AuthorizationError, call)
            assert error.status == 401 and error.errors == ["Incorrect API token"], (error.status, error.errors)
        assert raw_rows(ALICE) == {("account", ACCOUNT): 100}

    @check("an unknown access id raises APIError 404 for bulk and delete")
    def _():
        params = [PermissionResourceParams(resource_id=str(BACKEND), resource_type="project", access_level="viewer")]
        for call in (
            lambda: api.permissions.bulk_permissions_update(ACCOUNT, 4242, params),
            lambda: api.account_accesses.delete(ACCOUNT, 4242),
            lambda: api.account_accesses.delete(ACCOUNT, CAROL),  # deleted above
        ):
            error = expect_raises(APIError, call)
            assert not isinstance(error, AuthorizationError)
            assert error.status == 404 and error.errors == ["Not Found"], (error.status, error.errors)

    @check("the owner and another account raise APIError 403")
    def _():
        error = expect_raises(APIError, lambda: api.account_accesses.delete(ACCOUNT, OWNER))
        assert (error.status, error.errors) == (403, ["Access forbidden"]), (error.status, error.errors)
        error = expect_raises(APIError, lambda: api.account_accesses.get_list(2222222))
        assert (error.status, error.errors) == (403, ["Account access forbidden"]), (error.status, error.errors)

    @check("invalid bulk bodies raise APIError 422 with the flattened errors object")
    def _():
        error = expect_raises(APIError, lambda: api.permissions.bulk_permissions_update(ACCOUNT, ALICE, []))
        assert error.status == 422
        assert error.errors == ["base: No permissions selected. Please choose at least one."], error.errors
        bad = [
            PermissionResourceParams(resource_id=str(BACKEND), resource_type="project", access_level="viewer"),
            PermissionResourceParams(resource_id="999", resource_type="inbox", access_level="viewer"),
        ]
        error = expect_raises(APIError, lambda: api.permissions.bulk_permissions_update(ACCOUNT, ALICE, bad))
        assert error.status == 422 and error.errors[0].startswith("permissions[1].resource_id: "), error.errors
        assert raw_rows(ALICE) == {("account", ACCOUNT): 100}, "all or nothing"


if __name__ == "__main__":
    sys.exit(main())
