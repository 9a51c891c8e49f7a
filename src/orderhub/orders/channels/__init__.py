"""Channel adapters: each turns a channel's native order payload into the canonical order.

An adapter is a module with ``normalize(payload) -> ChannelOrder`` and, where the channel signs
its webhooks, ``SIGNATURE_HEADER`` plus a ``secret_setting`` name. Errors point (JSON pointer)
into the payload the channel sent, not into our canonical form.
"""

from __future__ import annotations

from types import ModuleType

from orderhub.orders.channels import pos, shopify, social, woocommerce
from orderhub.orders.channels.base import ChannelOrder, verify_hmac_base64

ADAPTERS: dict[str, ModuleType] = {
    "shopify": shopify,
    "woocommerce": woocommerce,
    "pos": pos,
    "social": social,
}

__all__ = ["ADAPTERS", "ChannelOrder", "verify_hmac_base64"]
