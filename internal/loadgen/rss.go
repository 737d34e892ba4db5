package loadgen

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RSS reads the resident set size of process pid from /proc, in bytes; 0
// when it cannot be read. The load runs report the server's with it.
func RSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
