package translate

import (
	"bytes"
	"time"
)

// V3Job is a v3 job (GET /v3/jobs/:guid).
type V3Job struct {
	GUID      string    `json:"guid"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	Errors    []struct {
		Detail string `json:"detail"`
		Title  string `json:"title"`
		Code   int    `json:"code"`
	} `json:"errors"`
}

// V2Job is a v2 job body (cc:app/presenters/api/job_presenter.rb): its
// metadata has no updated_at, and error and error_details appear only
// when the job failed.
type V2Job struct {
	Metadata struct {
		GUID      string `json:"guid"`
		CreatedAt string `json:"created_at"`
		URL       string `json:"url"`
	} `json:"metadata"`
	Entity struct {
		GUID         string          `json:"guid"`
		Status       string          `json:"status"`
		Error        string          `json:"error,omitempty"`
		ErrorDetails *V2ErrorDetails `json:"error_details,omitempty"`
	} `json:"entity"`
}

// V2ErrorDetails is a failed job's error, as CC's ErrorPresenter stored it.
type V2ErrorDetails struct {
	Description string `json:"description"`
	ErrorCode   string `json:"error_code"`
	Code        int    `json:"code"`
}

// jobErrorDeprecated is the text CC puts in a failed job's entity.error.
const jobErrorDeprecated = "Use of entity>error is deprecated in favor of entity>error_details."

// JobStatus maps a v3 job state to v2's status. v2 told queued (not yet
// locked by a worker) from running; v3 shows both as PROCESSING, read as
// running, which clients poll the same way.
func JobStatus(v3State string) string {
	switch v3State {
	case "COMPLETE":
		return "finished"
	case "FAILED":
		return "failed"
	}
	return "running"
}

// Job renders the v2 job of a v3 job, or of none: CC deletes a job once
// it has finished and then answers a NullJob (guid "0", finished) rather
// than 404 (cc:app/controllers/runtime/jobs_controller.rb).
func Job(j *V3Job) ([]byte, error) {
	var out V2Job
	if j == nil {
		out.Metadata.GUID, out.Metadata.CreatedAt, out.Metadata.URL = "0", formatTime(time.Unix(0, 0)), "/v2/jobs/0"
		out.Entity.GUID, out.Entity.Status = "0", "finished"
	} else {
		out.Metadata.GUID, out.Metadata.CreatedAt, out.Metadata.URL = j.GUID, formatTime(j.CreatedAt), "/v2/jobs/"+j.GUID
		out.Entity.GUID, out.Entity.Status = j.GUID, JobStatus(j.State)
		if out.Entity.Status == "failed" {
			out.Entity.Error = jobErrorDeprecated
			d := &V2ErrorDetails{Description: "An unknown error occurred.", ErrorCode: "UnknownError", Code: 10001}
			if len(j.Errors) > 0 {
				d = &V2ErrorDetails{Description: j.Errors[0].Detail, ErrorCode: j.Errors[0].Title, Code: j.Errors[0].Code}
			}
			out.Entity.ErrorDetails = d
		}
	}
	var buf bytes.Buffer
	if err := encodeJSON(&buf, &out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// PackageJob is the v2 job of a bits upload or copy, which v3 runs as the
// package's own state rather than as a job: the gateway names the job
// after the package. AWAITING_UPLOAD, PROCESSING_UPLOAD and COPYING read
// queued, READY finished, FAILED failed (CC's AppBitsUploadInvalid).
func PackageJob(p V3Package) ([]byte, error) {
	j := &V3Job{GUID: p.GUID, CreatedAt: p.CreatedAt, State: "PROCESSING"}
	switch p.State {
	case "READY":
		j.State = "COMPLETE"
	case "FAILED":
		j.State = "FAILED"
		j.Errors = append(j.Errors, struct {
			Detail string `json:"detail"`
			Title  string `json:"title"`
			Code   int    `json:"code"`
		}{"The app upload is invalid: the package could not be processed", "CF-AppBitsUploadInvalid", 160001})
	}
	body, err := Job(j)
	if err != nil || j.State != "PROCESSING" {
		return body, err
	}
	return QueuedJob(p.GUID, p.CreatedAt)
}

// QueuedJob is the v2 job body answered when work is handed off: status
// queued (shared/reference/v2/app_upload_bits_response_job.json).
func QueuedJob(guid string, created time.Time) ([]byte, error) {
	var out V2Job
	out.Metadata.GUID, out.Metadata.CreatedAt, out.Metadata.URL = guid, formatTime(created), "/v2/jobs/"+guid
	out.Entity.GUID, out.Entity.Status = guid, "queued"
	var buf bytes.Buffer
	err := encodeJSON(&buf, &out)
	return buf.Bytes(), err
}
