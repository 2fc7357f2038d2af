"""Accounts in cents; transfers are given in dollars."""
import logging
import sys

log = logging.getLogger("ledger")


class InsufficientFunds(Exception):
    pass


class Account:
    def __init__(self, name, balance_cents):
        self.name = name
        self.balance = balance_cents

    def _check(self, amount):
        if amount > self.balance:
            raise InsufficientFunds(f"{self.name}: balance {self.balance} < {amount}")

    def withdraw(self, amount):
        self._check(amount)
        self.balance -= amount

    def deposit(self, amount):
        self.balance += amount


class SavingsAccount(Account):
    def withdraw(self, amount):
        log.info("savings withdrawal account=%s amount=%d", self.name, amount)
        super().withdraw(amount)


class Transfer:
    def execute(self, src, dst, dollars):
        log.info("transfer src=%s dst=%s dollars=%s", src.name, dst.name, dollars)
        src.withdraw(dollars * 1000)
        dst.deposit(dollars * 100)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    a, b = SavingsAccount("alice", 100_000), Account("bob", 0)
    Transfer().execute(a, b, int(sys.argv[1]))
