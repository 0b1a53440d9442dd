// `make bench-click`: the baseline (chain-2.click) behind a Classifier that
// admits IPv4 (Click's `12/0800`). 3 elements between the endpoints.
FromRing -> Classifier(12/0800) -> CheckIPHeader(14)
         -> IPRewriter(pattern 10.0.2.15 - 10.0.2.2 - 0 0) -> ToRing;
