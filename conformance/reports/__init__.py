"""The reports: how the run's answer is shown. The terminal summary (terminal.py), the one-page report
(report_page.py), the Allure results and HTML report (allure.py, allure_html.py) and, for a fleet
of targets, the matrix (matrix.py). They read the verdict and the catalogue; they judge nothing."""

REPORT_NAME = "Calls API conformance"
RESULTS_DIR = "allure-results"  # the Allure results, under the reports directory
