package bench

import (
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Percentile returns the p-th percentile (0–100) of values by the nearest
// rank method; 0 for no values. values is sorted in place.
func Percentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return 0
	}
	if !sort.Float64sAreSorted(values) {
		sort.Float64s(values)
	}
	if p <= 0 {
		return values[0]
	}
	rank := int(math.Ceil(p * float64(len(values)) / 100)) // multiply first: 7/100*100 is not 7
	rank = min(max(rank, 1), len(values))
	return values[rank-1]
}

// peakRSS returns the process's peak resident set size (VmHWM), in bytes.
func peakRSS() int64 { return procStatus("VmHWM:") }

// currentRSS returns the process's resident set size (VmRSS), in bytes.
func currentRSS() int64 { return procStatus("VmRSS:") }

// resetPeakRSS resets VmHWM to the current RSS (Linux: clear_refs 5), so
// that each of several runs in one process reports its own peak.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func procStatus(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
