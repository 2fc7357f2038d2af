"""Name pools. Names are drawn at random per system, so no name says which one breaks."""
from __future__ import annotations

DOMAINS = {
    "rail": ["ticket", "route", "seat", "train", "travel", "fare", "timetable", "booking", "rebook", "refund",
             "passenger", "coach", "platform", "station-info", "voucher", "loyalty", "invoice", "notify",
             "consign", "food", "insurance", "payment", "basket", "journey", "pass"],
    "freight": ["parcel", "shipment", "depot", "carrier", "manifest", "tariff", "tracking", "label", "pickup",
                "customs", "hub-sort", "dispatch", "driver", "vehicle", "slot", "quote", "billing", "claims",
                "address", "geocode", "eta", "proof", "returns", "pallet", "docks"],
    "energy": ["meter", "reading", "contract", "tariff", "settlement", "forecast", "grid", "feeder", "crew",
               "asset", "workorder", "billing", "payment", "dunning", "customer", "premise", "rates",
               "market", "balancing", "nomination", "telemetry", "substation", "schedule", "report", "ledger"],
    "retail": ["cart", "checkout", "order", "pricing", "promo", "inventory", "warehouse", "fulfilment",
               "shipping", "payment", "fraud", "review", "recommend", "search", "wishlist", "giftcard",
               "loyalty", "store", "returns", "invoice", "tax", "currency", "media", "ads", "session"],
    "insurance": ["policy", "quote", "underwriting", "claim", "broker", "premium", "risk", "document",
                  "payment", "renewal", "party", "vehicle", "property", "rating", "fnol", "adjuster",
                  "reserve", "recovery", "fraud-score", "letters", "ledger", "commission", "audit", "portal-bff",
                  "endorsement"],
    "telco": ["subscriber", "plan", "usage", "rating", "charging", "provision", "sim", "porting", "number",
              "order", "billing", "payment", "device", "coverage", "ticket", "roaming", "bundle", "topup",
              "voucher", "contract", "credit", "notify", "address", "shop-bff", "partner"],
    "clinic": ["patient", "appointment", "slot", "practitioner", "referral", "lab-order", "result", "claim",
               "consent", "prescription", "pharmacy", "invoice", "payment", "reminder", "room", "triage",
               "encounter", "document", "coding", "eligibility", "portal-bff", "audit", "messaging", "survey",
               "waitlist"],
}

AUTH_NAMES = ["auth", "identity", "iam", "token", "sso", "access", "session-auth", "login", "authz", "principal"]
HUB_NAMES = ["catalog", "station", "config", "masterdata", "refdata", "registry", "directory", "product-info",
             "locations", "lookup", "reference", "settings"]
GATEWAY_NAMES = ["api-gateway", "edge", "gateway", "edge-proxy", "ingress-api", "front-gateway", "bff-gateway", "zuul"]

SUFFIXES = ["-service", "-svc", "", "-api", "-srv", "-app"]
PREFIXES = ["", "", "", "ts-", "mx-", "core-", "p-", "n-"]

ORGS = ["com.acme", "io.fleetwise", "de.bahnx", "com.northwind", "nl.vervoer", "com.tradewind", "io.kestrel",
        "com.globex", "org.meridian", "com.initech", "fr.ligne", "se.varberg", "com.umbra", "io.helix"]

NODE_STYLES = [
    lambda i, r: f"ip-10-{r.randrange(0, 250)}-{r.randrange(0, 250)}-{r.randrange(2, 250)}.eu-central-1.compute.internal",
    lambda i, r: f"k8s-worker-{i + 1:02d}",
    lambda i, r: f"aks-nodepool1-{r.randrange(10000000, 99999999)}-vmss0000{i:02x}",
    lambda i, r: f"node-{r.choice('abcdefgh')}{r.randrange(10, 99)}",
    lambda i, r: f"prod-pool-{r.randrange(1, 4)}-{r.randrange(1000, 9999)}-{i}",
]

ENTITY_WORDS = ["item", "record", "entry", "unit", "reference", "document", "line", "request", "profile", "batch"]

UA = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "okhttp/4.12.0", "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 7 Build/UQ1A.240105.004)",
    "MyApp/3.4.1 (iPhone; iOS 17.2; Scale/3.00)", "python-requests/2.31.0", "curl/7.88.1",
]
