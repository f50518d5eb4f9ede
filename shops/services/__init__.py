"""Writes of the shops app. Import from here: `from shops.services import shop_access_token`."""
from .install import (
    InvalidOAuthState,
    ShopSetupError,
    oauth_authorize_url,
    oauth_begin,
    oauth_state_consume,
    oauth_state_create,
    shop_details_refresh,
    shop_install_from_code,
    shop_install_from_session_token,
    shop_setup,
)
from .tokens import (
    ShopTokenError,
    ShopTokenMissing,
    ShopTokenRefreshError,
    shop_access_token,
    shop_mark_uninstalled,
    shop_tokens_store,
)

__all__ = [
    "InvalidOAuthState",
    "ShopSetupError",
    "ShopTokenError",
    "ShopTokenMissing",
    "ShopTokenRefreshError",
    "oauth_authorize_url",
    "oauth_begin",
    "oauth_state_consume",
    "oauth_state_create",
    "shop_access_token",
    "shop_details_refresh",
    "shop_install_from_code",
    "shop_install_from_session_token",
    "shop_mark_uninstalled",
    "shop_setup",
    "shop_tokens_store",
]
