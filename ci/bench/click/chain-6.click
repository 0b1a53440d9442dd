// `make bench-click`: a 6-element chain, Click's usual IP path: classify,
// strip the Ethernet header, check the IPv4 header, decrement the TTL,
// translate, and put the Ethernet header back.
FromRing -> Classifier(12/0800) -> Strip(14) -> CheckIPHeader -> DecIPTTL
         -> IPRewriter(pattern 10.0.2.15 - 10.0.2.2 - 0 0) -> Unstrip(14) -> ToRing;
