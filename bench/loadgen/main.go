// loadgen: a bounded, self-stopping HTTP load generator for the platform's benchmarks.
//
// It POSTs JSON bodies (one per line of -bodies, used round robin) to -url from -c keep-alive
// connections for -d, after a -warmup that is not measured, and prints one JSON object:
// requests, errors by status, requests per second, and latency percentiles in milliseconds.
// Loopback only: it refuses any host but 127.0.0.1 and localhost.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Requests   int            `json:"requests"`
	Seconds    float64        `json:"seconds"`
	RPS        float64        `json:"rps"`
	Statuses   map[string]int `json:"statuses"`
	Errors     int            `json:"errors"`
	P50        float64        `json:"p50_ms"`
	P90        float64        `json:"p90_ms"`
	P99        float64        `json:"p99_ms"`
	Max        float64        `json:"max_ms"`
	Concurrent int            `json:"connections"`
}

func main() {
	target := flag.String("url", "", "the URL to POST to")
	bodiesPath := flag.String("bodies", "", "a file of JSON bodies, one per line")
	conns := flag.Int("c", 32, "connections")
	duration := flag.Duration("d", 10*time.Second, "measured duration")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured warm-up")
	flag.Parse()
	parsed, err := url.Parse(*target)
	if err != nil || (parsed.Hostname() != "127.0.0.1" && parsed.Hostname() != "localhost") {
		fmt.Fprintln(os.Stderr, "loadgen targets loopback only (127.0.0.1 or localhost)")
		os.Exit(2)
	}
	bodies := readBodies(*bodiesPath)
	transport := &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns, DisableCompression: true}
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}

	var next uint64
	var measuring atomic.Bool
	stop := make(chan struct{})
	var mu sync.Mutex
	latencies := make([]float64, 0, 1<<20)
	statuses := map[string]int{}
	errors := 0
	var wg sync.WaitGroup
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]float64, 0, 1<<16)
			localStatus := map[string]int{}
			localErrors := 0
			for {
				select {
				case <-stop:
					mu.Lock()
					latencies = append(latencies, local...)
					for k, v := range localStatus {
						statuses[k] += v
					}
					errors += localErrors
					mu.Unlock()
					return
				default:
				}
				body := bodies[atomic.AddUint64(&next, 1)%uint64(len(bodies))]
				start := time.Now()
				resp, err := client.Post(*target, "application/json", bytes.NewReader(body))
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if !measuring.Load() {
					continue
				}
				if err != nil {
					localErrors++
					continue
				}
				local = append(local, float64(time.Since(start).Microseconds())/1000)
				localStatus[fmt.Sprint(resp.StatusCode)]++
			}
		}()
	}
	time.Sleep(*warmup)
	measuring.Store(true)
	began := time.Now()
	time.Sleep(*duration)
	measuring.Store(false)
	elapsed := time.Since(began).Seconds()
	close(stop)
	wg.Wait()
	sort.Float64s(latencies)
	out := result{Requests: len(latencies), Seconds: elapsed, RPS: float64(len(latencies)) / elapsed,
		Statuses: statuses, Errors: errors, P50: pct(latencies, 0.50), P90: pct(latencies, 0.90),
		P99: pct(latencies, 0.99), Max: pct(latencies, 1.0), Concurrent: *conns}
	json.NewEncoder(os.Stdout).Encode(out)
}

func pct(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))) - 1
	if i < 0 {
		i = 0
	}
	return sorted[i]
}

func readBodies(path string) [][]byte {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer f.Close()
	var out [][]byte
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if line := bytes.TrimSpace(scanner.Bytes()); len(line) > 0 {
			out = append(out, append([]byte(nil), line...))
		}
	}
	if len(out) == 0 {
		fmt.Fprintln(os.Stderr, "no bodies in", path)
		os.Exit(2)
	}
	return out
}
