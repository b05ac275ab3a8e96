//go:build linux && race

package main

// raceEnabled is set when the tests run under the race detector, whose
// shadow memory is part of a process's resident memory.
const raceEnabled = true
