from setuptools import find_packages, setup

setup(
    name="windback-server",
    version="0.1.0",
    description="Self-hostable churn-recovery backend: churn events, win-back emails, webhooks, analytics.",
    python_requires=">=3.11",
    packages=find_packages(include=["config*", "store*", "handlers*", "actors*", "services*", "scripts*"]),
    py_modules=["server"],
    include_package_data=True,
    package_data={"handlers": ["static/*", "static/**/*", "static/app/*", "static/app/pages/*"]},
    install_requires=[
        "tornado>=6.4,<7",
        "peewee>=3.17,<5",
        "psycopg2-binary>=2.9,<3",
        "pyjwt[crypto]>=2.8,<3",
        "bcrypt>=4.1,<6",
        "aiosmtplib>=3,<6",
        "openai>=1.40,<4",
        "stripe>=10,<17",
        "razorpay>=1.4,<3",
        "pykka>=4,<5",
        "cachetools>=5,<9",
    ],
    extras_require={
        "test": [
            "pytest>=8,<10",
            "pytest-tornado>=0.8,<0.9",
            "aiosmtpd>=1.4,<2",
            "playwright>=1.40,<2",  # drives Debian's chromium (executable_path); no browser download
            "schemathesis>=4.3,<5",  # fuzzes the live server from docs/openapi.json (tests/test_contract.py)
            "standardwebhooks>=1.1,<2",  # the reference verifier of our outbound webhook signatures
        ],
    },
    entry_points={"console_scripts": ["windback-server=server:main"]},
)
