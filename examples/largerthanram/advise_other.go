//go:build !unix

package main

// Without madvise the program runs without hints.
func dontNeed(s []Point)   {}
func sequential(s []Point) {}
func evict(path string)    {}
func resetPeak()           {}
func peakRSS() string      { return "unknown" }
