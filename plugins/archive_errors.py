"""A bad sort in an address is the reader's mistake (400), not the server's (500).

Datasette 0.65 reports ``?_sort=`` on a column that is not there (a typo, a column of
another table, a link kept from an older archive) as a server error: its exception carries
the default status 500 (datasette issue 1950, fixed after 0.65). The message is right;
only the status is changed to what it means, and Datasette's own handler shows the page.
"""

from datasette import hookimpl
from datasette.views.base import DatasetteError

# Messages of Datasette's table view that are about the request's sort parameters.
BAD_SORT_MESSAGES = ("Cannot sort table by ", "Cannot use _sort and _sort_desc at the same time")


def is_bad_sort(exception: BaseException) -> bool:
    """True for Datasette's error on a sort parameter it cannot apply."""
    return (
        isinstance(exception, DatasetteError)
        and exception.status == 500
        and str(exception.message).startswith(BAD_SORT_MESSAGES)
    )


@hookimpl
def handle_exception(exception: BaseException) -> None:
    """Give a bad sort parameter the status of a bad request; Datasette renders the page."""
    if is_bad_sort(exception):
        exception.status = 400  # type: ignore[attr-defined]
