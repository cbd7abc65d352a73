package faultproxy_test

import (
	"fmt"
	"log"
	"net/url"

	"github.com/backapp/backapp/internal/testenv/faultproxy"
)

// Put the proxy in front of an S3 endpoint, fail about 10% of part uploads with 500 or
// 503, reset some uploads and downloads mid-body, and give the proxy's URL to the S3
// client (and pre-sign against it) instead of the server's.
func Example() {
	s3, err := url.Parse("http://127.0.0.1:7070") // versitygw, in a test from testenv.Env
	if err != nil {
		log.Fatal(err)
	}
	p, err := faultproxy.New(s3, faultproxy.Config{
		Seed: 1, // the same seed and request sequence give the same faults
		Rules: []faultproxy.Rule{
			{Name: "part-500", Match: faultproxy.PartUploads(), Probability: 0.05, Fault: faultproxy.InternalError()},
			{Name: "part-503", Match: faultproxy.PartUploads(), Probability: 0.05, Fault: faultproxy.SlowDown()},
			{Name: "part-cut", Match: faultproxy.PartUploads(), Nth: []int{3, 7}, Fault: faultproxy.ResetRequestBody{After: 1 << 20}},
			{Name: "get-cut", Match: faultproxy.Methods("GET"), Limit: 2, Probability: 0.5, Fault: faultproxy.ResetResponseBody{After: 4 << 20}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	endpoint := p.URL() // the S3 client's endpoint (path-style addressing)
	_ = endpoint
	// ... run the backup and restore through endpoint, then check the faults happened:
	s := p.Stats()
	fmt.Println(s.Responded, s.RequestBodyResets, s.ResponseBodyResets, s.ByRule["part-503"])
}
