"""The GraphQL documents the connector sends, each validated against the 2025-10 schema by
the tests' fake (a field Shopify lacks fails there as it would in production).

The order selection reads everything the books need except refund details: nested
connections multiply a query's cost by the page size, so refunds come as summaries here and
their lines are read per refund (`REFUND`) only while a refund still waits for its credit note.
"""

from __future__ import annotations

LINES_PER_ORDER = 10  # more lines than this: the rest are read with ORDER_LINES (nested connections multiply the cost)

_MONEY = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"
_TAX = f"title rate ratePercentage priceSet {{ {_MONEY} }}"
_ADDRESS = "firstName lastName company address1 address2 zip city provinceCode countryCodeV2 phone"
_LINE = f"""
      id sku name title variantTitle quantity taxable isGiftCard
      variant {{ id }}
      customAttributes {{ key value }}
      originalUnitPriceSet {{ {_MONEY} }}
      discountAllocations {{ allocatedAmountSet {{ {_MONEY} }} discountApplication {{ index }} }}
      taxLines {{ {_TAX} }}"""

ORDER_FIELDS = f"""
fragment OrderFields on Order {{
  id legacyResourceId name createdAt processedAt updatedAt cancelledAt cancelReason closed closedAt test
  displayFinancialStatus displayFulfillmentStatus currencyCode presentmentCurrencyCode taxesIncluded taxExempt
  email phone note poNumber tags paymentGatewayNames discountCodes
  customAttributes {{ key value }}
  metafields(first: 10) {{ nodes {{ namespace key value }} }}
  customer {{ id firstName lastName defaultEmailAddress {{ emailAddress }} taxExempt }}
  billingAddress {{ {_ADDRESS} }}
  shippingAddress {{ {_ADDRESS} }}
  subtotalPriceSet {{ {_MONEY} }}
  totalShippingPriceSet {{ {_MONEY} }}
  totalDiscountsSet {{ {_MONEY} }}
  totalTaxSet {{ {_MONEY} }}
  totalPriceSet {{ {_MONEY} }}
  currentTotalPriceSet {{ {_MONEY} }}
  totalRefundedSet {{ {_MONEY} }}
  discountApplications(first: 5) {{
    nodes {{
      __typename index allocationMethod targetType
      value {{ __typename ... on MoneyV2 {{ amount currencyCode }} ... on PricingPercentageValue {{ percentage }} }}
      ... on DiscountCodeApplication {{ code }}
      ... on AutomaticDiscountApplication {{ title }}
      ... on ManualDiscountApplication {{ title }}
      ... on ScriptDiscountApplication {{ title }}
    }}
  }}
  lineItems(first: {LINES_PER_ORDER}) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ {_LINE} }}
  }}
  shippingLines(first: 2) {{
    nodes {{
      id title code
      originalPriceSet {{ {_MONEY} }}
      discountedPriceSet {{ {_MONEY} }}
      discountAllocations {{ allocatedAmountSet {{ {_MONEY} }} discountApplication {{ index }} }}
      taxLines {{ {_TAX} }}
    }}
  }}
  transactions(first: 10) {{ id kind status gateway processedAt amountSet {{ {_MONEY} }} }}
  refunds(first: 10) {{ id createdAt note totalRefundedSet {{ {_MONEY} }} }}
}}
"""

ORDERS_PAGE = "OrdersPage", ORDER_FIELDS + """
query OrdersPage($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...OrderFields }
  }
}
"""

ORDER = "OneOrder", ORDER_FIELDS + """
query OneOrder($id: ID!) {
  order(id: $id) { ...OrderFields }
}
"""

ORDER_LINES = "OrderLines", f"""
query OrderLines($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: 50, after: $after) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {_LINE} }} }}
  }}
}}
"""

REFUND = "RefundDetail", f"""
query RefundDetail($id: ID!) {{
  node(id: $id) {{
    ... on Refund {{
      id createdAt note
      totalRefundedSet {{ {_MONEY} }}
      refundLineItems(first: 50) {{
        nodes {{ quantity lineItem {{ id sku name }} subtotalSet {{ {_MONEY} }} totalTaxSet {{ {_MONEY} }} }}
      }}
      refundShippingLines(first: 10) {{
        nodes {{ shippingLine {{ id title }} subtotalAmountSet {{ {_MONEY} }} taxAmountSet {{ {_MONEY} }} }}
      }}
    }}
  }}
}}
"""

SCOPES = "AccessScopes", """
query AccessScopes {
  currentAppInstallation { accessScopes { handle } }
}
"""


def count_states(queries: dict[str, str]) -> tuple[str, str]:
    """One request counting orders per search query, an alias each (`ordersCount` is cheap)."""
    fields = "\n".join(f'  {alias}: ordersCount(query: "{query}", limit: null) {{ count precision }}'
                       for alias, query in queries.items())
    return "StateCounts", f"query StateCounts {{\n{fields}\n}}\n"


WEBHOOK_CREATE = "WebhookCreate", """
mutation WebhookCreate($topic: WebhookSubscriptionTopic!, $subscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $subscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""

WEBHOOKS = "Webhooks", """
query Webhooks {
  webhookSubscriptions(first: 100) { nodes { id topic uri } }
}
"""

WEBHOOK_DELETE = "WebhookDelete", """
mutation WebhookDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}
"""

SHOP = "ShopZone", """
query ShopZone {
  shop { ianaTimezone currencyCode billingAddress { countryCodeV2 } }
}
"""
