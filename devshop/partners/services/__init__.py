"""Writes of the partners app. The names below are the contract with devshop.store
(/work/notes/devshop-contract.md): `authenticate_admin_request`, `InvalidAccessToken`, `webhook_emit`."""
from .apps import AppConfigError, app_register_from_toml
from .auth import (
    ADMIN_API_INVALID_TOKEN_BODY,
    InvalidAccessToken,
    OAuthError,
    authenticate_admin_request,
    authorization_code_issue,
    grant_authorization_code,
    grant_refresh_token,
    grant_token_exchange,
    installation_grant,
)
from .staff import staff_member_create
from .webhooks import (
    app_uninstall,
    compliance_emit,
    webhook_emit,
    webhook_fault_add,
    webhook_subscription_create,
    webhook_subscription_delete,
)

__all__ = [
    "ADMIN_API_INVALID_TOKEN_BODY",
    "AppConfigError",
    "InvalidAccessToken",
    "OAuthError",
    "app_register_from_toml",
    "app_uninstall",
    "authenticate_admin_request",
    "authorization_code_issue",
    "compliance_emit",
    "grant_authorization_code",
    "grant_refresh_token",
    "grant_token_exchange",
    "installation_grant",
    "staff_member_create",
    "webhook_emit",
    "webhook_fault_add",
    "webhook_subscription_create",
    "webhook_subscription_delete",
]
