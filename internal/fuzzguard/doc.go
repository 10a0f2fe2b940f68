// Package fuzzguard bounds one fuzz input: Go's native fuzzing has no
// per-input timeout, so a parser or a walk that loops would hang the
// fuzzer (and `make test`, which runs the seed corpora) instead of
// failing the input. Used by the fuzz targets' tests only.
package fuzzguard
