from setuptools import find_packages, setup

setup(
    name="xtune_fairseq",
    version="0.1.0",
    description="xTune (consistency regularization for cross-lingual fine-tuning) as a fairseq extension",
    packages=find_packages(include=["xtune_fairseq", "xtune_fairseq.*"]),
    python_requires=">=3.10",
    install_requires=[
        "torch==2.13.0",
        "fairseq-fixed==0.12.3.1",
        "sentencepiece==0.2.1",
        "sacremoses==0.1.1",
        "numpy==2.4.6",
    ],
    extras_require={"test": ["pytest==9.0.1"]},
    entry_points={
        "console_scripts": [
            "xtune-preprocess=xtune_fairseq.cli.preprocess:main",
            "xtune-evaluate=xtune_fairseq.cli.evaluate:main",
            "xtune-pipeline=xtune_fairseq.cli.pipeline:main",
            "xtune-make-tiny-model=xtune_fairseq.cli.make_tiny_model:main",
            "xtune-convert=xtune_fairseq.cli.convert:main",
            "xtune-demo=xtune_fairseq.cli.demo:main",
            "xtune-bench=xtune_fairseq.bench.suite:main",
            "xtune-results=xtune_fairseq.cli.results:main",
            "xtune-retrieval=xtune_fairseq.cli.retrieval:main",
            "xtune-represent=xtune_fairseq.cli.represent:main",
            "xtune-teacher-cache=xtune_fairseq.cli.teacher_cache:main",
        ]
    },
)
