"""(being written)"""


def add_parser(sub):
    return None
