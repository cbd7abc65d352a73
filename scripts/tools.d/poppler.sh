# Sourced by scripts/tools.sh: poppler-utils, whose pdftotext the report tests
# (internal/server/reports_test.go) read the generated PDF with, as a real reader would.
need_apt pdftotext poppler-utils
