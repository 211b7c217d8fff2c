import FuzzSupport
runFuzzer(seeds: { [] }) { _ in }
