module aidplatform/bench/loadgen

go 1.21
